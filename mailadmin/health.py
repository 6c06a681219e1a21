from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET
from kombu import Connection


@require_GET
def healthz(request):
    return JsonResponse({"status": "ok"})


@require_GET
def readyz(request):
    failing = {}
    try:
        connection.ensure_connection()
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as err:  # noqa: BLE001 - any failure means "not ready"
        failing["database"] = type(err).__name__
    try:
        options = getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
        with Connection(
            settings.CELERY_BROKER_URL, transport_options=options, connect_timeout=2
        ) as conn:
            conn.connect()
    except Exception as err:  # noqa: BLE001
        failing["broker"] = type(err).__name__
    if failing:
        parts = ", ".join(f"{k} ({v})" for k, v in failing.items())
        return JsonResponse(
            {"status": "unavailable", "failing": failing, "detail": f"Not ready: {parts}"},
            status=503,
        )
    return JsonResponse({"status": "ok"})
