from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from accounts.api import (
    AuthAccountAuthorizeView,
    AuthAccountDetailView,
    AuthAccountListView,
    AuthAccountRefreshView,
)
from outbox.api import MessageActionView, MessageBatchView, MessageDetailView, MessageListView
from servers.api import ServerDetailView, ServerListView, ServerTestView
from tenants.api import TenantDetailView, TenantListView

T = "tenants/<slug:tenant>"

urlpatterns = [
    path("schema", SpectacularAPIView.as_view(), name="api-schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("tenants", TenantListView.as_view()),
    path(f"{T}", TenantDetailView.as_view()),
    path(f"{T}/auth-accounts", AuthAccountListView.as_view()),
    path(f"{T}/auth-accounts/<str:name>", AuthAccountDetailView.as_view()),
    path(f"{T}/auth-accounts/<str:name>/authorize", AuthAccountAuthorizeView.as_view()),
    path(f"{T}/auth-accounts/<str:name>/refresh", AuthAccountRefreshView.as_view()),
    path(f"{T}/servers", ServerListView.as_view()),
    path(f"{T}/servers/<str:name>", ServerDetailView.as_view()),
    path(f"{T}/servers/<str:name>/test", ServerTestView.as_view()),
    path(f"{T}/messages", MessageListView.as_view()),
    path(f"{T}/messages/batch", MessageBatchView.as_view()),
    path(f"{T}/messages/<uuid:message_id>", MessageDetailView.as_view()),
    path(f"{T}/messages/<uuid:message_id>/cancel", MessageActionView.as_view(action="cancel")),
    path(f"{T}/messages/<uuid:message_id>/retry", MessageActionView.as_view(action="retry")),
]
