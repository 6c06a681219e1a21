from django.urls import path

from . import views

urlpatterns = [
    path("messages/", views.message_list, name="message-list"),
    path("messages/<uuid:message_id>/", views.message_detail, name="message-detail"),
    path("messages/<uuid:message_id>/status", views.message_status, name="message-status"),
    path(
        "messages/<uuid:message_id>/cancel",
        views.message_action,
        {"action": "cancel"},
        name="message-cancel",
    ),
    path(
        "messages/<uuid:message_id>/retry",
        views.message_action,
        {"action": "retry"},
        name="message-retry",
    ),
]
