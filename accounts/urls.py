from django.urls import path

from . import views

urlpatterns = [
    path("auth-accounts/", views.account_list, name="account-list"),
    path("auth-accounts/new/", views.account_edit, name="account-new"),
    path("auth-accounts/<str:name>/", views.account_edit, name="account-edit"),
    path("auth-accounts/<str:name>/delete", views.account_delete, name="account-delete"),
    path("auth-accounts/<str:name>/authorize", views.account_authorize, name="account-authorize"),
    path("auth-accounts/<str:name>/refresh", views.account_refresh, name="account-refresh"),
]
