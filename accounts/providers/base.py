"""The base every auth-account kind builds on. A kind overrides only what differs."""

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SmtpLogin:
    """What an SMTP transport needs to authenticate: a SASL mechanism family and its inputs."""

    mechanism: str  # "password" (AUTH PLAIN/LOGIN) or "xoauth2"
    username: str
    secret: str
    # For tokens: a fresh secret after the server refused this one (once per connection).
    renew: Callable[[], str] | None = None


class Provider:
    id: str = ""
    label: str = ""
    # Fields an admin must fill for this kind; the form shows only these and `optional_fields`.
    required_fields: tuple[str, ...] = ()
    optional_fields: tuple[str, ...] = ()
    # Which of the above are secrets (encrypted, write-only).
    secret_fields: tuple[str, ...] = ()
    help_text: dict[str, str] = {}
    # Whether the kind uses OAuth tokens, and whether a person must consent (Generate Tokens).
    uses_tokens = False
    consent = False
    # Host, port and security a new server for this kind usually needs.
    suggested_server: dict = {}

    def fill_defaults(self, account) -> None:
        """Fill fields the admin left empty with the kind's usual values."""

    def validate(self, account) -> dict[str, list[str]]:
        """Errors by field for an account of this kind about to be saved."""
        errors: dict[str, list[str]] = {}
        for field in self.required_fields:
            value = getattr(account, field)
            if value in (None, "", []):
                label = account._meta.get_field(field).verbose_name
                errors.setdefault(field, []).append(
                    f"{label.capitalize()} is required for a {self.label} account."
                )
        return errors

    def smtp_login(self, account) -> SmtpLogin | None:
        """How an SMTP server is logged into with this account, or None for no AUTH."""
        raise NotImplementedError
