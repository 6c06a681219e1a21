from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("tenants/new/", views.tenant_new, name="tenant-new"),
    path("t/<slug:tenant>/members/", views.members, name="members"),
    path("t/<slug:tenant>/members/<int:pk>/remove", views.member_remove, name="member-remove"),
    path("t/<slug:tenant>/api-keys/", views.api_keys, name="api-keys"),
    path("t/<slug:tenant>/api-keys/<int:pk>/revoke", views.api_key_revoke, name="api-key-revoke"),
]
