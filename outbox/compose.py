"""Render a message to MIME bytes, once, at enqueue time.

Messages without attachments (nearly all bulk mail) are written directly: the `email`
package spends about 2.7 ms a message parsing the headers it was just given, which capped
bulk enqueue near 600 msg/s. Messages with attachments go through the `email` package,
which is also the reference the direct writer is tested against.
"""

import binascii
import secrets
from email import policy
from email.header import Header
from email.message import EmailMessage
from email.utils import formataddr, formatdate, make_msgid

from servers.addresses import domain_of

# Headers the service sets itself; a caller's `headers` may not replace them.
RESERVED_HEADERS = {"from", "to", "cc", "bcc", "subject", "date", "message-id", "reply-to"}
MAX_LINE = 998  # RFC 5322 2.1.1


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
    """Returns (raw bytes with CRLF line ends, Message-ID)."""
    message_id = make_msgid(domain=domain_of(from_email) or "mailadmin.invalid")
    fields = dict(
        from_email=from_email,
        from_name=from_name,
        to=to,
        cc=cc,
        reply_to=reply_to,
        subject=subject,
        text=text,
        html=html,
        headers=headers,
        utf8=utf8,
        message_id=message_id,
    )
    if attachments:
        return render_with_email_package(**fields, attachments=attachments), message_id
    return render_direct(**fields), message_id


def _header_text(value: str, utf8: bool) -> str:
    if value.isascii() or utf8:
        return value
    return Header(value, "utf-8", maxlinelen=76).encode().replace("\n", "\r\n")


def _addresses(addresses: list[str]) -> str:
    # One address a line keeps long recipient lists under the line limit.
    return ",\r\n ".join(addresses)


def _text_part(content: str, subtype: str) -> bytes:
    lines = content.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if content.isascii() and all(len(line) <= MAX_LINE for line in lines):
        encoding, body = "7bit", "\r\n".join(lines).encode("ascii")
    else:
        encoded = binascii.b2a_qp("\n".join(lines).encode("utf-8"), istext=True)
        encoding, body = "quoted-printable", encoded.replace(b"\n", b"\r\n")
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    head = (
        f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
        f"Content-Transfer-Encoding: {encoding}\r\n"
    ).encode()
    return head + b"\r\n" + body


def render_direct(
    *, from_email, from_name, to, cc, reply_to, subject, text, html, headers, utf8, message_id
) -> bytes:
    sender = formataddr((from_name, from_email), charset="utf-8") if from_name else from_email
    lines = [f"From: {sender}"]
    if to:
        lines.append(f"To: {_addresses(to)}")
    if cc:
        lines.append(f"Cc: {_addresses(cc)}")
    if reply_to:
        lines.append(f"Reply-To: {_addresses(reply_to)}")
    lines += [
        f"Subject: {_header_text(subject, utf8)}",
        f"Date: {formatdate(usegmt=True)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    lines += [f"{name}: {_header_text(value, utf8)}" for name, value in headers.items()]
    head = ("\r\n".join(lines) + "\r\n").encode("utf-8")
    if text is not None and html is not None:
        boundary = f"==mailadmin_{secrets.token_hex(12)}"
        parts = b"".join(
            # The CRLF before each boundary belongs to the delimiter (RFC 2046 5.1.1).
            f"--{boundary}\r\n".encode() + part + b"\r\n"
            for part in (_text_part(text, "plain"), _text_part(html, "html"))
        )
        return (
            head
            + f'Content-Type: multipart/alternative; boundary="{boundary}"\r\n\r\n'.encode()
            + parts
            + f"--{boundary}--\r\n".encode()
        )
    return head + _text_part(
        text if text is not None else html, "plain" if text is not None else "html"
    )


def render_with_email_package(
    *,
    from_email,
    from_name,
    to,
    cc,
    reply_to,
    subject,
    text,
    html,
    headers,
    attachments,
    utf8,
    message_id,
) -> bytes:
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
    return msg.as_bytes(policy=mime_policy)
