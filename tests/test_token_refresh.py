"""Proactive refresh, the notice when a grant is lost, and the banner that fixes it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.models import AuthAccount, TokenStatus
from accounts.tokens import refresh_if_due
from mailadmin.status import MessageStatus
from outbox import delivery
from outbox.models import Message
from outbox.services import send_message
from servers.services import save_server

from .conftest import relay_settings, smtp_server_for
from .test_oauth import consented

pytestmark = pytest.mark.django_db


@pytest.fixture
def account(client, oauth_server, generic):
    return consented(client, oauth_server, generic)


def expire_in(account, **delta):
    AuthAccount.objects.filter(pk=account.pk).update(
        token_expires_at=timezone.now() + timedelta(**delta)
    )


def test_a_fresh_token_is_not_refreshed(account, oauth_server):
    before = oauth_server.stats()["refresh_token"]
    assert refresh_if_due(account.pk) is False
    assert oauth_server.stats()["refresh_token"] == before


def test_a_token_expiring_within_the_window_is_refreshed(account, oauth_server):
    expire_in(account, minutes=5)
    assert refresh_if_due(account.pk) is True
    account.refresh_from_db()
    assert account.token_expires_at > timezone.now() + timedelta(minutes=50)


def test_an_idle_refresh_token_is_refreshed_before_the_provider_retires_it(
    account, oauth_server, settings
):
    settings.MAILADMIN_IDLE_REFRESH_DAYS = 30
    AuthAccount.objects.filter(pk=account.pk).update(
        last_refresh_at=timezone.now() - timedelta(days=31)
    )
    assert refresh_if_due(account.pk) is True
    assert AuthAccount.objects.get(pk=account.pk).last_refresh_at > timezone.now() - timedelta(
        minutes=1
    )


def test_the_beat_task_refreshes_only_what_is_due(account, tenant, oauth_server, monkeypatch):
    from accounts import tasks
    from accounts.services import save_account

    fresh = consented_copy = save_account(
        tenant,
        {
            "name": "other",
            "kind": "oauth2",
            "username": "mailer@example.com",
            "client_id": "c",
            "client_secret": "s",
            "authorization_endpoint": account.authorization_endpoint,
            "token_endpoint": account.token_endpoint,
            "scopes": ["smtp"],
        },
    )
    assert fresh.token_status == TokenStatus.NONE  # never consented: nothing to refresh
    expire_in(account, minutes=1)
    # Run the per-account tasks inline instead of through the broker.
    monkeypatch.setattr(tasks.refresh_account, "delay", tasks.refresh_account)
    before = oauth_server.stats()["refresh_token"]
    assert tasks.refresh_expiring_tokens() == 1
    assert oauth_server.stats()["refresh_token"] == before + 1
    assert AuthAccount.objects.get(pk=consented_copy.pk).token_status == TokenStatus.NONE


def test_losing_the_grant_tells_the_admins_once_through_another_server(
    account,
    oauth_server,
    make_smtp_server,
    django_user_model,
    xoauth2_smtp,
    certificates,
    django_capture_on_commit_callbacks,
):
    from tenants.models import Membership, Role

    owner = django_user_model.objects.create_user("olga", email="olga@acme.example")
    Membership.objects.create(tenant=account.tenant, user=owner, role=Role.OWNER)
    relay = make_smtp_server()
    save_server(account.tenant, relay_settings(relay, name="RELAY"))
    smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
    oauth_server.control(strict=True, revoke_all=True)
    expire_in(account, seconds=0)
    for _ in range(2):
        send_message(account.tenant, server="DEFAULT", to=["bob@example.com"], text="x")
    with django_capture_on_commit_callbacks(execute=True):
        delivery.deliver_due()  # holds both; the first loss queues one notice on commit
    delivery.deliver_due()  # sends the notice through RELAY
    held = Message.objects.filter(status=MessageStatus.HELD).count()
    assert held == 2
    [notice] = relay.handler_obj.received
    assert notice.rcpt_tos == ["olga@acme.example"]
    assert b"must be re-authorized" in notice.content
    assert b"/t/acme/auth-accounts/oauth/" in notice.content


def test_a_banner_offers_re_authorize_on_every_tenant_page(client, admin_user, account):
    AuthAccount.objects.filter(pk=account.pk).update(token_status=TokenStatus.NEEDS_CONSENT)
    client.force_login(admin_user)
    for url in ("/t/acme/servers/", "/t/acme/messages/"):
        page = client.get(url).content.decode()
        assert "Auth account oauth needs re-authorization" in page
        assert 'action="/t/acme/auth-accounts/oauth/authorize"' in page
