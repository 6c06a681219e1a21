"""SMTP replies turned into MailErrors: a 4xx is worth retrying, a 5xx is final."""

from mailadmin.errors import MailError, TransportError


def reply_text(resp) -> str:
    return resp.decode("utf-8", "replace") if isinstance(resp, bytes) else str(resp)


def reply_error(code: int, resp, *, what: str, server: str = "") -> MailError:
    """A 4xx reply is worth retrying; a 5xx reply is final."""
    text = reply_text(resp)
    if 400 <= code < 500:
        return TransportError(
            f"The server deferred {what}: {code} {text}",
            hint="This is temporary; it will be retried.",
            code=code,
            reply=text,
            server=server,
            retryable=True,
        )
    return TransportError(
        f"The server refused {what}: {code} {text}",
        hint="Read the server's words above; it will not be retried as it is.",
        code=code,
        reply=text,
        server=server,
        retryable=False,
    )
