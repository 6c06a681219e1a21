from django.urls import path

from . import views

urlpatterns = [
    path("servers/", views.server_list, name="server-list"),
    path("servers/new/", views.server_edit, name="server-new"),
    path("servers/<str:name>/", views.server_detail, name="server-detail"),
    path("servers/<str:name>/edit/", views.server_edit, name="server-edit"),
    path("servers/<str:name>/test", views.server_test, name="server-test"),
    path("servers/<str:name>/delete", views.server_delete, name="server-delete"),
]
