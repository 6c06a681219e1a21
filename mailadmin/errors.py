"""One root exception for everything that can go wrong delivering mail.

Each error carries a sentence for a person (`str(err)`), an optional `hint` saying what to
change, the server's own words (`reply`, `code`) when there are any, and whether trying
again later can help (`retryable`). Never put a secret in any of them.
"""


class MailError(Exception):
    retryable = False
    # Seconds the server asked us to wait (Retry-After), when it said.
    retry_after: float | None = None
    # Whether this failure uses up one of the message's attempts.
    counts_as_attempt = True

    def __init__(
        self,
        message: str,
        *,
        hint: str = "",
        code: int | None = None,
        reply: str = "",
        server: str = "",
        retryable: bool | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code
        self.reply = reply
        self.server = server
        if retryable is not None:
            self.retryable = retryable

    def describe(self) -> str:
        """The one-line form stored as a message's last error and shown on pages."""
        text = self.message
        if self.hint:
            text = f"{text} — {self.hint}"
        return text


class ConfigurationError(MailError):
    """The server or account is set up in a way that cannot work; an admin must change it."""


class AuthenticationError(MailError):
    """The server refused the credentials."""


class TransportError(MailError):
    """The conversation with the server failed; 4xx replies and network trouble are retryable."""


class RecipientsRefused(TransportError):
    def __init__(self, message: str, *, refused: dict | None = None, **kwargs):
        super().__init__(message, **kwargs)
        self.refused = refused or {}


class MessageRejected(MailError):
    """Input that can never be sent (bad address, header injection, too large, policy)."""

    def __init__(self, message: str, *, field: str = "", **kwargs):
        super().__init__(message, **kwargs)
        self.field = field


class BatchRejected(MessageRejected):
    """A bulk send with invalid items: `errors` maps each bad item's index to its fields."""

    def __init__(self, errors: dict[int, dict[str, list[str]]], message: str = ""):
        if not message and errors:
            index = min(errors)
            field, problems = next(iter(errors[index].items()))
            first = problems[0] if isinstance(problems, list) else problems
            message = f"Message {index}: {field}: {first} Nothing was queued."
        super().__init__(message or "Nothing was queued.", field="messages")
        self.errors = errors


class SecretUnreadable(ConfigurationError):
    """A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY."""


class TokenError(MailError):
    """Getting an OAuth access token failed."""


class ConsentRequired(TokenError):
    """The grant is gone (revoked, expired, rotated elsewhere): a person must consent again.

    Mail for the account is held, not failed, until they do.
    """

    hold = True


class TokenEndpointUnavailable(TokenError):
    """The provider's token endpoint is down, slow or answered 5xx: try again later.

    Mail waits for the provider without using up its attempts: an outage at the provider is
    no reason to fail a message.
    """

    retryable = True
    counts_as_attempt = False
