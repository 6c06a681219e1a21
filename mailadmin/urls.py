from django.contrib import admin
from django.urls import include, path

from accounts.views import oauth_callback

from . import health

urlpatterns = [
    path("healthz", health.healthz),
    path("readyz", health.readyz),
    path("api/v1/", include("mailadmin.api_urls")),
    path("oauth/callback", oauth_callback, name="oauth-callback"),
    path("django-admin/", admin.site.urls),
    path("", include("tenants.urls")),
    path("t/<slug:tenant>/", include("accounts.urls")),
    path("t/<slug:tenant>/", include("servers.urls")),
    path("t/<slug:tenant>/", include("outbox.urls")),
]
