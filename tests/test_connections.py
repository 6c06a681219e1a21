"""Persistent database connections: checked before reuse without a round trip, and a
connection the server has dropped is replaced, not handed to the request."""

import select
import time

import psycopg
import pytest
from django.db import connection

pytestmark = pytest.mark.django_db(transaction=True)


def side_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    return psycopg.connect(**params, autocommit=True)


def last_statement(side, pid: int) -> str:
    return side.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0]


def new_request() -> None:
    """What Django does around each request: mark the connection for a health check, then
    use it."""
    connection.close_if_unusable_or_obsolete()
    connection.close_if_health_check_failed()


def test_a_healthy_connection_is_reused_without_asking_the_server():
    assert connection.health_check_enabled
    with connection.cursor() as cursor:
        cursor.execute("SELECT 'last thing the request did'")
    pid = connection.connection.info.backend_pid
    with side_connection() as side:
        new_request()
        assert connection.connection is not None
        assert connection.connection.info.backend_pid == pid
        # No SELECT 1 went to the server: its last statement is still the request's.
        assert last_statement(side, pid) == "SELECT 'last thing the request did'"


def test_a_connection_the_server_terminated_is_replaced_before_use():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    pid = connection.connection.info.backend_pid
    with side_connection() as side:
        assert side.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0]
    # The server's goodbye reaches the socket shortly after.
    poller = select.poll()
    poller.register(connection.connection.fileno(), select.POLLIN)
    deadline = time.monotonic() + 5
    while not poller.poll(50) and time.monotonic() < deadline:
        pass
    new_request()
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != pid


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_the_send_path_statements_are_prepared_once_and_the_orm_s_are_not(tenant):
    from outbox.models import Message
    from servers.services import save_server
    from tenants.models import ApiKey

    from .conftest import api_client

    save_server(tenant, {"name": "S", "host": "127.0.0.1", "port": 25, "security": "none"})
    client = api_client(tenant, "sender")
    body = {"to": ["x@y.example"], "text": "x", "from": "a@acme.example"}
    for _ in range(3):
        response = client.post("/api/v1/tenants/acme/messages", body, format="json")
        assert response.status_code == 202, response.content
    assert list(ApiKey.objects.filter(tenant=tenant)) and Message.objects.count() == 3
    statements = prepared_statements()
    # The key lookup (with its tenant and server) and the INSERT: once each, reused.
    assert sum(f"FROM {ApiKey._meta.db_table} k JOIN" in s for s in statements) == 1
    assert sum(s.startswith(f'INSERT INTO "{Message._meta.db_table}"') for s in statements) == 1
    # ORM queries keep Django's client-side binding: nothing of theirs is prepared.
    assert not [s for s in statements if "SELECT" in s and " k JOIN " not in s]
