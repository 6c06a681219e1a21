"""Address checks shared by server settings and message validation."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate_email = EmailValidator(allowlist=["localhost"])
_CRLF = re.compile(r"[\r\n]")
# RFC 6531 local part: UTF-8 dot-atom text (Django's validator knows only ASCII ones).
_UTF8_LOCAL = re.compile(r'^[^\s@"(),:;<>\[\]\\.]+(\.[^\s@"(),:;<>\[\]\\.]+)*$')


def has_crlf(value: str) -> bool:
    return bool(_CRLF.search(value))


def is_ascii(value: str) -> bool:
    return value.isascii()


def address_error(address: str) -> str | None:
    """Why `address` is not a usable mailbox address, or None when it is."""
    if not isinstance(address, str) or not address.strip():
        return "An address is empty."
    if has_crlf(address):
        return f"'{address!r}' contains a line break (header injection is refused)."
    invalid = f"'{address}' is not a valid email address."
    candidate = address
    if not address.isascii():
        local, _, domain = address.rpartition("@")
        if not local.isascii() and not _UTF8_LOCAL.match(local):
            return invalid
        try:
            ascii_domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            return invalid
        candidate = f"{local if local.isascii() else 'x'}@{ascii_domain}"
    try:
        _validate_email(candidate)
    except ValidationError:
        return invalid
    return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
