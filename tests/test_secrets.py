"""Secrets are encrypted at rest, write-only, never logged, and never silently mis-decrypted."""

import logging

import pytest
from cryptography.fernet import Fernet
from django.db import connection

from accounts.models import AuthAccount
from mailadmin.errors import SecretUnreadable
from mailadmin.fields import UnreadableSecret
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message
from servers.services import save_server

from .conftest import relay_settings, smtp_server_for
from .smtp_server import PASSWORD

pytestmark = pytest.mark.django_db


def stored_column(account) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT password FROM accounts_authaccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_the_password_column_holds_fernet_ciphertext(basic_account):
    column = stored_column(basic_account)
    assert PASSWORD not in column
    assert column.startswith("gAAAA")  # Fernet token, version byte 0x80
    assert AuthAccount.objects.get(pk=basic_account.pk).password == PASSWORD


def test_a_password_encrypted_with_another_key_is_unreadable_not_ciphertext(basic_account):
    foreign = Fernet(Fernet.generate_key()).encrypt(b"hunter2").decode()
    AuthAccount.objects.filter(pk=basic_account.pk).update(password=foreign)
    # .update() above went through the field and was encrypted again; write the raw column.
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_authaccount SET password = %s WHERE id = %s",
            [foreign, basic_account.pk],
        )
    account = AuthAccount.objects.get(pk=basic_account.pk)
    assert isinstance(account.password, UnreadableSecret)
    assert account.password != foreign
    with pytest.raises(SecretUnreadable) as caught:
        account.provider.smtp_login(account)
    assert "FIELD_ENCRYPTION_KEY" in caught.value.message
    # Saving the row for another reason keeps the stored ciphertext as it was.
    account.description = "touched"
    account.save()
    assert stored_column(account) == foreign


def test_an_unreadable_password_fails_delivery_loudly_and_sends_nothing(basic_account, smtp_server):
    server = save_server(basic_account.tenant, relay_settings(smtp_server))
    server.auth_account = basic_account
    server.save()
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_authaccount SET password = %s WHERE id = %s",
            [Fernet(Fernet.generate_key()).encrypt(b"x").decode(), basic_account.pk],
        )
    message = send_message(basic_account.tenant, to=["b@example.com"], text="x")
    delivery.deliver_due()
    message.refresh_from_db()
    assert message.status == "failed"
    assert "cannot be decrypted" in message.last_error
    assert smtp_server.handler_obj.received == []


def test_a_wrong_password_never_reaches_logs_or_errors(
    tenant, make_smtp_server, certificates, caplog
):
    from accounts.services import save_account

    caplog.set_level(logging.DEBUG)
    controller = make_smtp_server(mode="starttls", auth=True)
    secret = "Sup3r-Secret-Value"
    account = save_account(
        tenant, {"name": "m", "kind": "basic", "username": "mailer@example.com", "password": secret}
    )
    smtp_server_for(tenant, account, controller, certificates)
    message = send_message(tenant, to=["b@example.com"], text="x")
    delivery.deliver_due()
    message = Message.objects.get(pk=message.pk)
    assert message.status == "failed"
    assert "refused the login" in message.last_error
    assert secret not in message.last_error
    assert secret not in caplog.text
    assert all(secret not in a.detail for a in message.attempts.all())
