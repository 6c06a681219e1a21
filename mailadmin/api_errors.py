"""Every API error as {"detail": ..., "errors": {field: [...]}}."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_handler

from mailadmin.errors import BatchRejected, MessageRejected


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        errors = (
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
        return Response(
            {"detail": _summary(errors), "errors": errors}, status=status.HTTP_400_BAD_REQUEST
        )
    if isinstance(exc, BatchRejected):
        errors = {"messages": {str(i): fields for i, fields in exc.errors.items()}}
        if not exc.errors:
            errors = {"messages": [exc.message]}
        return Response({"detail": exc.message, "errors": errors}, status=400)
    if isinstance(exc, MessageRejected):
        field = exc.field or "non_field_errors"
        return Response(
            {"detail": exc.message, "errors": {field: [exc.message]}},
            status=status.HTTP_400_BAD_REQUEST,
        )
    if isinstance(exc, Http404):
        return Response({"detail": "Not found.", "errors": {}}, status=404)
    response = drf_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ValidationError):
        errors = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        response.data = {"detail": _summary(errors), "errors": errors}
    elif isinstance(exc, APIException):
        response.data = {"detail": str(exc.detail), "errors": {}}
    return response


def _summary(errors: dict) -> str:
    for field, messages in errors.items():
        first = messages[0] if isinstance(messages, list) and messages else messages
        if isinstance(first, dict):
            return f"Invalid input in '{field}'."
        return f"{field}: {first}" if field != "non_field_errors" else str(first)
    return "Invalid input."
