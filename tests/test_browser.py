"""A person in Debian's Chromium: log in, create an account and a server, send a test email."""

import os
from pathlib import Path

import pytest
import redis
from django.conf import settings
from playwright.sync_api import expect, sync_playwright

from tenants.models import Membership, Role
from tenants.services import create_tenant

from .workers import celery_worker

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = Path(os.environ.get("MAILADMIN_SCREENSHOTS", "var/test/screenshots"))


@pytest.fixture(scope="module")
def browser():
    # Playwright's sync API runs an event loop in this thread; Django's ORM must still work.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    page = context.new_page()
    yield page
    context.close()


def test_admin_sends_a_test_email_from_the_browser(
    page, live_server, make_smtp_server, django_user_model, tmp_path
):
    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    smtp = make_smtp_server(mode="plain", auth=True)
    tenant = create_tenant(slug="acme", name="Acme")
    user = django_user_model.objects.create_user("alice", password="alice-password")
    Membership.objects.create(tenant=tenant, user=user, role=Role.ADMIN)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    page.goto(f"{live_server.url}/login/")
    page.get_by_label("Username").fill("alice")
    page.get_by_label("Password").fill("alice-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Servers")).to_be_visible()

    page.get_by_role("link", name="Auth accounts").click()
    page.get_by_role("link", name="New auth account").click()
    page.get_by_label("Name", exact=True).fill("mailer")
    page.get_by_label("Account type").select_option("basic")
    page.get_by_label("Username").fill("mailer@example.com")
    page.get_by_label("Password").fill("correct horse battery staple")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("heading", name="Auth account mailer")).to_be_visible()
    expect(page.get_by_text("correct horse battery staple")).to_have_count(0)

    page.get_by_role("link", name="Servers").click()
    page.get_by_role("link", name="New server").click()
    page.get_by_label("Name", exact=True).fill("DEFAULT")
    page.get_by_label("Host").fill("127.0.0.1")
    page.get_by_label("Port", exact=True).fill(str(smtp.port))
    page.get_by_label("Security").select_option("none")
    page.get_by_label("Auth account").select_option("mailer")
    page.get_by_label("Default From").fill("app@acme.example")
    page.screenshot(path=SCREENSHOTS / "server-form.png", full_page=True)
    page.get_by_role("button", name="Save server").click()
    expect(page.get_by_role("heading", name="Server DEFAULT")).to_be_visible()

    with celery_worker(tmp_path):
        page.get_by_label("Send a test email to").fill("qa@acme.example")
        page.get_by_role("button", name="Send test email").click()
        status = page.locator("#test-status [data-status]")
        expect(status).to_have_text("sent", timeout=30_000)
    expect(page.get_by_text("The server replied:")).to_be_visible()
    page.screenshot(path=SCREENSHOTS / "test-email-sent.png", full_page=True)

    [received] = smtp.handler_obj.received
    assert received.rcpt_tos == ["qa@acme.example"]
    assert smtp.handler_obj.logins == ["PLAIN"]
    assert b"mailadmin test email from server DEFAULT" in received.content


def test_generate_tokens_lands_back_on_the_account_showing_valid(
    browser, live_server, oauth_server, django_user_model, settings
):
    from accounts.models import AuthAccount
    from accounts.services import save_account

    settings.MAILADMIN_PUBLIC_URL = live_server.url  # the callback URL the provider redirects to
    tenant = create_tenant(slug="acme", name="Acme")
    user = django_user_model.objects.create_user("alice", password="alice-password")
    Membership.objects.create(tenant=tenant, user=user, role=Role.ADMIN)
    save_account(
        tenant,
        {
            "name": "oauth",
            "kind": "oauth2",
            "username": "mailer@example.com",
            "client_id": "app-1",
            "client_secret": "s3cret-client",
            "authorization_endpoint": f"{oauth_server.url}/authorize",
            "token_endpoint": f"{oauth_server.url}/token",
            "scopes": ["smtp", "openid", "email"],
        },
    )
    # The OAuth server's certificate comes from the test CA, which Chromium does not know.
    context = browser.new_context(ignore_https_errors=True)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill("alice-password")
        page.get_by_role("button", name="Log in").click()
        page.goto(f"{live_server.url}/t/acme/auth-accounts/oauth/")
        expect(page.locator("#callback-url")).to_have_text(f"{live_server.url}/oauth/callback")
        page.get_by_role("button", name="Generate Tokens").click()
        expect(page.get_by_role("heading", name="Auth account oauth")).to_be_visible()
        expect(page.locator("[data-token-status]")).to_have_text("valid")
        expect(page.get_by_text("Consented by mailer@example.com")).to_be_visible()
        page.screenshot(path=SCREENSHOTS / "generate-tokens.png", full_page=True)
    finally:
        context.close()
    assert AuthAccount.objects.get(name="oauth").token_status == "valid"
