"""Turn a send request into an unsaved, validated, rendered Message (single and bulk).

Every check names the field it is about (MessageRejected.field) and changes nothing.
"""

import base64
import binascii
import re
from datetime import datetime

from django.conf import settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from mailadmin.errors import MessageRejected
from mailadmin.hotpath import columns, fetch_row
from mailadmin.status import Priority
from servers.addresses import address_error, domain_of, has_crlf
from servers.models import FromPolicy, ServerConfig
from tenants.models import Tenant

from .compose import RESERVED_HEADERS, render
from .models import Message

_HEADER_NAME = re.compile(r"^[!-9;-~]+$")  # RFC 5322 field name: printable ASCII but ':'


def server_match(name: str | None) -> tuple[str, object]:
    """SQL condition on table `s` and its parameter: the server called `name`, or the
    default when None (both unique in a tenant)."""
    return ("s.name = %s", name) if name else ("s.is_default = %s", True)


def _server_sql(where: str) -> str:
    # Plain SQL: this runs for every message sent over the API (see mailadmin.hotpath).
    return (
        f"SELECT {columns(ServerConfig, 's')} FROM {ServerConfig._meta.db_table} s "  # noqa: S608
        f"WHERE s.tenant_id = %s AND {where}"
    )


def _tenant_server(tenant: Tenant, name: str | None) -> ServerConfig | None:
    where, value = server_match(name)
    found = fetch_row(_server_sql(where), [tenant.pk, value], ServerConfig)
    if found is None:
        return None
    (server,) = found
    server.tenant = tenant
    return server


NOT_LOOKED_UP = object()


def resolve_server(tenant: Tenant, name: str | None, found=NOT_LOOKED_UP) -> ServerConfig:
    """The tenant's server called `name` (its default when None), if mail may go through it.

    `found` is the row when the caller has looked it up already (None: there is none).
    """
    server = found
    if server is NOT_LOOKED_UP:
        server = _tenant_server(tenant, name)
    if server is None:
        if name:
            raise MessageRejected(f"No server named '{name}' in this tenant.", field="server")
        raise MessageRejected(
            "This tenant has no default server. Create a server (the first one becomes "
            "the default) or name one in 'server'.",
            field="server",
        )
    if not server.active:
        raise MessageRejected(
            f"Server '{server.name}' is inactive. Activate it or send through another server.",
            field="server",
        )
    return server


def _addresses(field: str, values, *, allow_utf8: bool) -> list[str]:
    if values in (None, ""):
        return []
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list | tuple):
        raise MessageRejected("Give a list of addresses.", field=field)
    result = []
    for value in values:
        if not isinstance(value, str):
            raise MessageRejected("Every address must be a string.", field=field)
        value = value.strip()
        if problem := address_error(value):
            raise MessageRejected(problem, field=field)
        if not value.isascii() and not allow_utf8:
            raise MessageRejected(
                f"'{value}' is an international address and this server does not allow UTF-8. "
                "Turn on 'Allow UTF-8' for the server (if it supports SMTPUTF8).",
                field=field,
            )
        result.append(value)
    return result


def _from_allowed(server: ServerConfig, address: str) -> bool:
    address = address.lower()
    domain = "@" + domain_of(address)
    return any(entry.lower() in (address, domain) for entry in server.allowed_from)


def choose_from(server: ServerConfig, requested: str | None) -> str:
    """Apply the server's From policy."""
    if server.from_policy == FromPolicy.FORCE_DEFAULT or not requested:
        if not server.default_from:
            raise MessageRejected(
                "No From address: give 'from', or set the server's default From.", field="from"
            )
        return server.default_from
    if server.from_policy == FromPolicy.ALLOW_LISTED and not _from_allowed(server, requested):
        raise MessageRejected(
            f"From '{requested}' is not allowed by server '{server.name}'. Allowed: "
            f"{', '.join(server.allowed_from)}. Use one of those, or add it to the server's "
            "allowed From list.",
            field="from",
        )
    return requested


def _headers(headers) -> dict[str, str]:
    if not headers:
        return {}
    if not isinstance(headers, dict):
        raise MessageRejected("Give headers as an object of name: value.", field="headers")
    clean = {}
    for name, value in headers.items():
        if not isinstance(name, str) or not _HEADER_NAME.match(name):
            raise MessageRejected(f"'{name}' is not a valid header name.", field="headers")
        if name.lower() in RESERVED_HEADERS:
            raise MessageRejected(
                f"Header '{name}' is set from the message's own fields; use those.",
                field="headers",
            )
        if not isinstance(value, str) or has_crlf(value):
            raise MessageRejected(
                f"Header '{name}' contains a line break (header injection is refused).",
                field="headers",
            )
        clean[name] = value
    return clean


def _attachments(items) -> list[tuple[str, str, bytes]]:
    result = []
    for index, item in enumerate(items or []):
        if isinstance(item, tuple):  # from Python callers: (filename, content_type, bytes)
            result.append(item)
            continue
        try:
            data = base64.b64decode(item["content_base64"], validate=True)
            filename = item["filename"]
        except (KeyError, TypeError, binascii.Error) as err:
            raise MessageRejected(
                f"Attachment {index} needs 'filename' and valid base64 in 'content_base64'.",
                field="attachments",
            ) from err
        if has_crlf(filename):
            raise MessageRejected("An attachment filename has a line break.", field="attachments")
        result.append((filename, item.get("content_type") or "application/octet-stream", data))
    return result


def _when(field: str, value) -> datetime | None:
    """A moment given as an aware datetime or an ISO 8601 string with a time zone."""
    if value in (None, ""):
        return None
    moment = parse_datetime(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime) or timezone.is_naive(moment):
        raise MessageRejected(
            f"Give {field} as an ISO 8601 time with a time zone, e.g. 2026-12-01T09:00:00Z.",
            field=field,
        )
    return moment


def build_message(
    tenant: Tenant,
    *,
    to=None,
    subject: str = "",
    text: str | None = None,
    html: str | None = None,
    server: str | None = None,
    from_email: str | None = None,
    from_name: str | None = None,
    cc=None,
    bcc=None,
    reply_to=None,
    headers: dict | None = None,
    attachments=None,
    idempotency_key: str | None = None,
    priority: str = "normal",
    is_test: bool = False,
    send_at=None,
    expires_at=None,
    servers: dict | None = None,
) -> Message:
    """Everything but saving. `servers` holds servers looked up already, by the name asked
    for (None for the default), and keeps them across a bulk call."""
    server = server or None
    known = servers.get(server, NOT_LOOKED_UP) if servers is not None else NOT_LOOKED_UP
    config = resolve_server(tenant, server, known)
    if servers is not None:
        servers[server] = config
    utf8 = config.allow_utf8
    to_list = _addresses("to", to, allow_utf8=utf8)
    cc_list = _addresses("cc", cc, allow_utf8=utf8)
    bcc_list = _addresses("bcc", bcc, allow_utf8=utf8)
    if not (to_list or cc_list or bcc_list):
        raise MessageRejected("Give at least one recipient in 'to', 'cc' or 'bcc'.", field="to")
    if not isinstance(subject, str) or has_crlf(subject):
        raise MessageRejected(
            "The subject must be one line (header injection is refused).", field="subject"
        )
    if text is None and html is None:
        raise MessageRejected("Give a body in 'text' or 'html' (or both).", field="text")
    sender = choose_from(config, from_email)
    (sender_checked,) = _addresses("from", [sender], allow_utf8=utf8)
    if from_name and has_crlf(from_name):
        raise MessageRejected("The From name must be one line.", field="from")
    reply_list = _addresses("reply_to", reply_to or config.reply_to or None, allow_utf8=utf8)
    try:
        priority_value = Priority.from_name(priority or "normal")
    except KeyError as err:
        raise MessageRejected("Priority is one of low, normal, high.", field="priority") from err

    now = timezone.now()
    send_at, expires_at = _when("send_at", send_at), _when("expires_at", expires_at)
    if expires_at is not None and expires_at <= max(now, send_at or now):
        raise MessageRejected(
            "expires_at must be later than now and than send_at.", field="expires_at"
        )
    extra_headers = _headers(headers)
    envelope = [*to_list, *cc_list, *bcc_list]
    header_to, header_cc = to_list, cc_list
    if config.override_recipients:
        # Staging: everything goes to the override list; the real recipients are only noted.
        extra_headers["X-Mailadmin-Original-To"] = ", ".join(envelope)
        envelope = list(config.override_recipients)
        header_to, header_cc = envelope, []
    uses_utf8 = not all(a.isascii() for a in (sender_checked, *envelope, *header_to))
    raw, message_id = render(
        from_email=sender_checked,
        from_name=from_name if from_name is not None else config.default_from_name,
        to=header_to,
        cc=header_cc,
        reply_to=reply_list,
        subject=subject,
        text=text,
        html=html,
        headers=extra_headers,
        attachments=_attachments(attachments),
        utf8=uses_utf8,
    )
    limit = settings.MAILADMIN_MAX_MESSAGE_BYTES
    if len(raw) > limit:
        raise MessageRejected(
            f"The message is {len(raw):,} bytes; the limit is {limit:,} bytes. Send large files "
            "as links.",
            field="attachments",
        )
    message = Message(
        tenant=tenant,
        server=config,
        server_name=config.name,
        priority=priority_value,
        from_email=sender_checked,
        to=to_list,
        cc=cc_list,
        bcc=bcc_list,
        recipients=envelope,
        subject=subject,
        raw=raw,
        size=len(raw),
        message_id=message_id,
        idempotency_key=idempotency_key or None,
        is_test=is_test,
        next_attempt_at=send_at or now,
        expires_at=expires_at,
    )
    return message
