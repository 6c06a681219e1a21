import os
import socket
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts.services import save_account
from servers.services import save_server
from tenants.models import Membership, Role
from tenants.services import create_api_key, create_tenant

from .oauth_server import OAuthServer
from .smtp_server import PASSWORD, USERNAME, Certificates, start_server, start_xoauth2_server

_connect = socket.socket.connect


def _loopback_only(sock, address):
    """Tests reach only this machine: a connection elsewhere is a bug in the test."""
    if sock.family in (socket.AF_INET, socket.AF_INET6):
        host = address[0]
        if not (host.startswith("127.") or host in ("::1", "localhost")):
            raise AssertionError(f"a test tried to connect to {host}: only loopback is allowed")
    return _connect(sock, address)


@pytest.fixture(autouse=True, scope="session")
def only_loopback():
    socket.socket.connect = _loopback_only
    yield
    socket.socket.connect = _connect


@pytest.fixture(scope="session")
def certificates():
    return Certificates()


@pytest.fixture(scope="session")
def ca_bundle(certificates, tmp_path_factory):
    """The system CAs plus the test CA: requests and msal read REQUESTS_CA_BUNDLE, which this
    machine sets, and which overrides any verify= given to them."""
    import certifi

    path = tmp_path_factory.mktemp("ca") / "bundle.pem"
    system = Path(os.environ.get("REQUESTS_CA_BUNDLE") or certifi.where()).read_text()
    path.write_text(system + "\n" + certificates.ca_pem)
    return path


@pytest.fixture(scope="session")
def oauth_process(certificates, tmp_path_factory):
    server = OAuthServer(certificates, tmp_path_factory.mktemp("oauth"))
    yield server
    server.stop()


@pytest.fixture
def oauth_server(oauth_process, ca_bundle, monkeypatch):
    """The OAuth server process, reset to lax defaults, trusted by requests and msal."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_bundle))
    oauth_process.reset()
    return oauth_process


@pytest.fixture
def xoauth2_smtp(oauth_server, certificates):
    controller = start_xoauth2_server(oauth_server.jwks(), certificates=certificates)
    yield controller
    controller.stop()


@pytest.fixture
def smtp_server():
    """A plain SMTP server without AUTH (an internal relay)."""
    controller = start_server()
    yield controller
    controller.stop()


@pytest.fixture
def make_smtp_server(certificates):
    started = []

    def make(**kwargs):
        kwargs.setdefault("certificates", certificates)
        controller = start_server(**kwargs)
        started.append(controller)
        return controller

    yield make
    for controller in started:
        controller.stop()


@pytest.fixture
def tenant(db):
    return create_tenant(slug="acme", name="Acme")


@pytest.fixture
def other_tenant(db):
    return create_tenant(slug="globex", name="Globex")


@pytest.fixture
def basic_account(tenant):
    return save_account(
        tenant, {"name": "mailer", "kind": "basic", "username": USERNAME, "password": PASSWORD}
    )


def relay_settings(controller, **overrides) -> dict:
    data = {
        "name": "DEFAULT",
        "host": "127.0.0.1",
        "port": controller.port,
        "security": "none",
        "default_from": "app@acme.example",
        "timeout_seconds": 5,
    }
    data.update(overrides)
    return data


@pytest.fixture
def relay(tenant, smtp_server):
    """The tenant's DEFAULT server, pointing at an open relay."""
    return save_server(tenant, relay_settings(smtp_server))


def member(django_user_model, tenant, username, role):
    user = django_user_model.objects.create_user(username, password="pw-" + username)
    Membership.objects.create(tenant=tenant, user=user, role=role)
    return user


@pytest.fixture
def admin_user(django_user_model, tenant):
    return member(django_user_model, tenant, "alice", Role.ADMIN)


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "", "root-password")


def api_client(tenant, role="admin") -> APIClient:
    _, raw = create_api_key(tenant, name=f"key-{role}", role=role)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {raw}")
    return client


@pytest.fixture
def api(tenant):
    return api_client(tenant, "admin")


@pytest.fixture
def generic(tenant, oauth_server):
    return save_account(
        tenant,
        {
            "name": "oauth",
            "kind": "oauth2",
            "username": USERNAME,
            "client_id": "app-1",
            "client_secret": "s3cret-client",
            "authorization_endpoint": f"{oauth_server.url}/authorize",
            "token_endpoint": f"{oauth_server.url}/token",
            "scopes": ["smtp", "openid", "email"],
        },
    )


@pytest.fixture
def graph_account(tenant, oauth_server):
    """A Microsoft Graph app-only account whose token comes from the test OAuth server."""
    return save_account(
        tenant,
        {
            "name": "graph",
            "kind": "microsoft_graph",
            "client_id": "daemon",
            "client_secret": "g-secret",
            "directory_id": "contoso",
            "token_endpoint": f"{oauth_server.url}/contoso/oauth2/v2.0/token",
        },
    )


def smtp_server_for(tenant, account, controller, certificates):
    """The tenant's DEFAULT server: STARTTLS with the test CA, logging in with `account`."""
    return save_server(
        tenant,
        {
            "name": "DEFAULT",
            "host": "127.0.0.1",
            "port": controller.port,
            "security": "starttls",
            "ca_certificates": certificates.ca_pem,
            "auth_account": account.name,
            "default_from": USERNAME,
        },
    )
