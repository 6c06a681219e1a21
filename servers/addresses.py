"""Address checks shared by server settings and message validation."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator

_validate_email = EmailValidator(allowlist=["localhost"])
_CRLF = re.compile(r"[\r\n]")


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
    try:
        _validate_email(address)
    except ValidationError:
        return f"'{address}' is not a valid email address."
    return None


def domain_of(address: str) -> str:
    return address.rpartition("@")[2].lower()
