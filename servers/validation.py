"""Checks on a server configuration that span fields. Errors name the field and the fix."""

import re
import ssl

from .addresses import address_error
from .models import FromPolicy, Security, ServerConfig

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)(?!-)[A-Za-z0-9-]{1,63}(?<!-)(\.(?!-)[A-Za-z0-9-]{1,63}(?<!-))*\.?$"
)
_IPV6 = re.compile(r"^\[?[0-9A-Fa-f:.]+\]?$")
_GRAPH_USER_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


def host_error(host: str) -> str | None:
    if not host:
        return "Enter the SMTP server's host name, e.g. smtp.example.com."
    if _HOSTNAME.match(host) or (":" in host and _IPV6.match(host)):
        return None
    return f"'{host}' is not a valid host name or IP address."


def server_errors(server: ServerConfig) -> dict[str, list[str]]:
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    if server.transport == "smtp" and (problem := host_error(server.host or "")):
        add("host", problem)
    if server.security == Security.SSL_ON_CONNECT and server.port == 587:
        add(
            "security",
            "Port 587 expects STARTTLS, not SSL on connect. Choose 'STARTTLS' for port 587, "
            "or use port 465 for SSL on connect.",
        )
    if server.security == Security.STARTTLS and server.port == 465:
        add(
            "security",
            "Port 465 expects SSL on connect (SMTPS), not STARTTLS. Choose 'SSL on connect' "
            "for port 465, or use port 587 for STARTTLS.",
        )
    if server.ca_certificates.strip():
        try:
            ssl.create_default_context().load_verify_locations(cadata=server.ca_certificates)
        except (ssl.SSLError, ValueError):
            add(
                "ca_certificates",
                "These CA certificates cannot be read. Paste one or more PEM blocks, each "
                "starting with -----BEGIN CERTIFICATE-----.",
            )
    for field in ("default_from", "reply_to"):
        value = getattr(server, field)
        if value and (problem := address_error(value)):
            add(field, problem)
    if server.from_policy == FromPolicy.FORCE_DEFAULT and not server.default_from:
        add("default_from", "Set a default From address: the From policy always uses it.")
    if not isinstance(server.allowed_from, list):
        add("allowed_from", "Give a list of addresses or @domains.")
    else:
        for entry in server.allowed_from:
            if isinstance(entry, str) and entry.startswith("@") and "." in entry[1:]:
                continue
            if not isinstance(entry, str) or address_error(entry):
                add("allowed_from", f"'{entry}' is neither an address nor an @domain.")
        if server.from_policy == FromPolicy.ALLOW_LISTED and not server.allowed_from:
            add("allowed_from", "List at least one allowed address or @domain for this policy.")
    account = server.auth_account
    if server.transport == "graph":
        if account is None or not account.provider.uses_tokens:
            add(
                "auth_account",
                "A Graph server needs an auth account with OAuth tokens: a Microsoft Graph "
                "app-only account (Mail.Send application permission) is the usual choice.",
            )
        mailbox = server.graph_mailbox or server.default_from
        if not mailbox:
            add("graph_mailbox", "Name the mailbox that sends (or set a default From).")
        elif address_error(mailbox) and not _GRAPH_USER_ID.match(mailbox):
            add("graph_mailbox", f"'{mailbox}' is neither an address nor a user ID.")
    graph_only = account is not None and (
        account.kind == "microsoft_graph"
        or any(scope.startswith("https://graph.microsoft.com") for scope in account.scopes)
    )
    if graph_only and server.transport == "smtp":
        add(
            "auth_account",
            f"Auth account '{account.name}' holds Microsoft Graph scopes, which cannot log "
            "into SMTP. Use a Microsoft OAuth 2.0 account with the SMTP.Send scope, or a "
            "server whose transport is Graph.",
        )
    if not isinstance(server.override_recipients, list):
        add("override_recipients", "Give a list of addresses.")
    else:
        for entry in server.override_recipients:
            if problem := address_error(entry):
                add("override_recipients", problem)
    return errors
