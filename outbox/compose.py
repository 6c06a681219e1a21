"""Render a message to MIME bytes, once, at enqueue time."""

from email import policy
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from servers.addresses import domain_of

# Headers the service sets itself; a caller's `headers` may not replace them.
RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to"}


def render(
    *,
    from_email: str,
    from_name: str,
    to: list[str],
    cc: list[str],
    reply_to: list[str],
    subject: str,
    text: str | None,
    html: str | None,
    headers: dict[str, str],
    attachments: list[tuple[str, str, bytes]],
    utf8: bool,
) -> tuple[bytes, str]:
    """Returns (raw bytes, Message-ID)."""
    mime_policy = policy.SMTPUTF8 if utf8 else policy.SMTP
    msg = EmailMessage(policy=mime_policy)
    msg["From"] = formataddr((from_name, from_email)) if from_name else from_email
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = ", ".join(reply_to)
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    message_id = make_msgid(domain=domain_of(from_email) or "mailadmin.invalid")
    msg["Message-ID"] = message_id
    for name, value in headers.items():
        msg[name] = value
    if text is not None:
        msg.set_content(text)
        if html is not None:
            msg.add_alternative(html, subtype="html")
    else:
        msg.set_content(html, subtype="html")
    for filename, content_type, data in attachments:
        maintype, _, subtype = (content_type or "application/octet-stream").partition("/")
        msg.add_attachment(
            data, maintype=maintype, subtype=subtype or "octet-stream", filename=filename
        )
    return msg.as_bytes(policy=mime_policy), message_id
