"""Four worker processes share one OAuth account while its tokens rotate under them."""

import time

import pytest
import redis
from django.conf import settings

from accounts.models import AuthAccount
from mailadmin.status import MessageStatus
from outbox.models import Message
from outbox.services import send_message

from .conftest import smtp_server_for
from .test_oauth import consented
from .workers import celery_worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

LIFETIME = 3  # seconds an access token lives at the strict provider
SKEW = 1  # seconds before expiry a token is replaced
DURATION = 15  # seconds of sending: five lifetimes


def test_strict_rotation_with_four_processes_never_spends_a_refresh_token_twice(
    tmp_path, client, oauth_server, generic, xoauth2_smtp, certificates
):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    oauth_server.control(strict=True, access_ttl=LIFETIME)
    account = consented(client, oauth_server, generic)
    smtp_server_for(account.tenant, account, xoauth2_smtp, certificates)
    start = oauth_server.stats()
    env = {"MAILADMIN_TOKEN_SKEW_SECONDS": str(SKEW)}
    with celery_worker(tmp_path, env=env), celery_worker(tmp_path, env=env):  # 2 × 2 processes
        began = time.monotonic()
        sent = 0
        while time.monotonic() - began < DURATION:
            send_message(account.tenant, to=[f"u{sent}@example.com"], text="x")
            sent += 1
            time.sleep(0.05)
        elapsed = time.monotonic() - began
        wait_until(
            lambda: Message.objects.filter(status=MessageStatus.SENT).count() == sent,
            timeout=60,
            what=f"{sent} messages sent",
        )
    stats = oauth_server.stats()
    refreshes = stats["refresh_token"] - start["refresh_token"]
    assert stats["invalid_grant"] == 0, stats["refusals"]
    assert AuthAccount.objects.get(pk=account.pk).token_status == "valid"
    assert len(xoauth2_smtp.handler_obj.received) == sent
    assert xoauth2_smtp.handler_obj.refused_tokens == 0
    # A token is used for LIFETIME - SKEW seconds, then replaced once, by one process.
    expected = elapsed / (LIFETIME - SKEW)
    print(f"{sent} messages in {elapsed:.1f} s, {refreshes} refreshes (≈{expected:.1f} expected)")
    assert expected * 0.5 <= refreshes <= expected + 2
