"""API-key authentication for POST .../messages: the key, its tenant and the server the
message goes through, in one statement.

Every API call looks its key up; every send then looks its server up. On the send path
each round trip to PostgreSQL is a sizeable part of the call (see mailadmin.hotpath), so
here the server rides along with the key: the one the body names, or the tenant's default.
The server is only ever one of the key's own tenant (the join is on the key's tenant_id),
and it is checked by resolve_server like any other before use.

The server's name has to be read from the body before the key is known, so only a small
JSON body is read that early: a caller without a valid key can never make the server parse
more than PEEK_LIMIT bytes, and a body that is larger or does not parse takes the plain
key lookup (its errors then come after authentication, as on every other endpoint).
"""

import json
from functools import cache

from mailadmin.hotpath import columns, fetch_row
from servers.models import ServerConfig
from tenants.auth import ApiKeyAuthentication
from tenants.models import ApiKey, Tenant

from .build import server_match

UNNAMED = object()  # the body named no usable server name: the plain key lookup
PEEK_LIMIT = 64 * 1024  # a password reset is ~200 bytes; bigger mail pays one more query


@cache
def _sql(match: str) -> str:
    # Fixed text; the key hash and the server name are parameters (S608).
    return (
        f"SELECT {columns(ApiKey, 'k')}, {columns(Tenant, 't')}, "  # noqa: S608
        f"{columns(ServerConfig, 's')} "
        f"FROM {ApiKey._meta.db_table} k JOIN {Tenant._meta.db_table} t ON t.id = k.tenant_id "
        f"LEFT JOIN {ServerConfig._meta.db_table} s ON s.tenant_id = k.tenant_id AND {match} "
        "WHERE k.key_hash = %s AND k.revoked_at IS NULL"
    )


def requested_server(request):
    """The server name a small JSON send body asks for (None: the default), or UNNAMED
    when the body is not one, or not a name at all (the parser then says what is wrong)."""
    if request.method != "POST":
        return UNNAMED
    if request.META.get("CONTENT_TYPE", "").split(";")[0].strip() != "application/json":
        return UNNAMED
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return UNNAMED
    if not 0 < length <= PEEK_LIMIT:
        return UNNAMED
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # not JSON (or absurdly nested): parsed later
        return UNNAMED
    if not isinstance(data, dict):
        return UNNAMED
    name = data.get("server")
    if name is None:
        return None
    if not isinstance(name, str):
        return UNNAMED
    return name.strip() or None


class SendKeyAuthentication(ApiKeyAuthentication):
    def find(self, request, key_hash):
        name = requested_server(request)
        if name is UNNAMED:
            return super().find(request, key_hash)
        match, value = server_match(name)
        found = fetch_row(_sql(match), [value, key_hash], ApiKey, Tenant, ServerConfig)
        if found is None:
            return None
        key, tenant, server = found
        if server is not None:
            server.tenant = tenant
        request.found_server = (name, server)
        return key, tenant


def found_servers(request, tenant, name) -> dict | None:
    """What SendKeyAuthentication found for server `name`, as build_message's `servers`
    (name → server or None for none such), or None when it looked nothing up for it."""
    found = getattr(request, "found_server", None)
    if found is None or found[0] != name:
        return None
    server = found[1]
    if server is not None and server.tenant_id != tenant.pk:
        return None
    return {name: server}
