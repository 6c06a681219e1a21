"""ESMTP PIPELINING (RFC 2920): one round trip per message instead of one per command.

smtplib waits for each reply, so a plain sender spends its time on round trips. When the
server advertises PIPELINING, each message's MAIL, RCPTs and DATA go in one write, and the
body of one message goes in the same write as the next message's envelope (RFC 2920 allows
the message content to start a group). Replies come back in order; each message still gets
its own outcome, exactly as `SmtpTransport.send` would give it.
"""

import re
import smtplib

from mailadmin.errors import ConfigurationError, MailError

from .base import SendResult
from .replies import reply_error, reply_text

CRLF = b"\r\n"
LEADING_DOT = re.compile(rb"(?m)^\.")
# A server that says 421 is closing the connection (RFC 5321 3.8).
CLOSING = 421


def dot_stuffed(raw: bytes) -> bytes:
    """The DATA payload, as smtplib's data() sends it: leading dots doubled, then CRLF.CRLF."""
    body = LEADING_DOT.sub(b"..", raw)
    if not body.endswith(CRLF):
        body += CRLF
    return body + b"." + CRLF


UNSAFE_IN_PATH = re.compile(r"[\r\n<>]")


def path(address: str) -> str:
    """<address> for MAIL and RCPT. Addresses were checked when the message was queued, so
    smtplib's quoteaddr (a full RFC 2822 parse, a tenth of the sending time) is not needed;
    a line break or bracket, which would inject commands, is still refused."""
    if UNSAFE_IN_PATH.search(address):
        raise ConfigurationError(
            f"The address {address!r} cannot be sent: it contains a line break or bracket.",
            hint="Fix the address and send the message again.",
        )
    return f"<{address}>"


def envelope(transport, envelope_from: str, recipients: list[str]) -> bytes:
    """MAIL, RCPT… and DATA for one message, as one write."""
    options = transport.mail_options(envelope_from, recipients)
    suffix = (" " + " ".join(options)) if options else ""
    lines = [f"MAIL FROM:{path(envelope_from)}{suffix}"]
    lines += [f"RCPT TO:{path(rcpt)}" for rcpt in recipients]
    lines.append("DATA")
    encoding = "utf-8" if "SMTPUTF8" in options else "ascii"
    return ("\r\n".join(lines) + "\r\n").encode(encoding)


def send_pipelined(transport, items):
    """Yield (index, SendResult or MailError) for each (envelope_from, recipients, raw).

    Stops early, with the connection closed, when the connection is lost or the server says
    it is closing; the items not yielded then were not sent.
    """
    writes: list[tuple[int, bytes]] = []
    for index, (envelope_from, recipients, _raw) in enumerate(items):
        try:
            writes.append((index, envelope(transport, envelope_from, recipients)))
        except MailError as err:
            yield index, err
    if not writes:
        return
    conn = transport.connection
    where = transport.where
    index = writes[0][0]
    try:
        conn.sock.sendall(writes[0][1])
        for position, (index, _) in enumerate(writes):
            _envelope_from, recipients, raw = items[index]
            following = writes[position + 1][1] if position + 1 < len(writes) else b""
            mail = conn.getreply()
            rcpts = [conn.getreply() for _ in recipients]
            data = conn.getreply()
            refused = {
                rcpt: (code, reply_text(text))
                for rcpt, (code, text) in zip(recipients, rcpts, strict=True)
                if code not in (250, 251)
            }
            closing = any(code == CLOSING for code, _ in (mail, *rcpts, data))
            if mail[0] == 250 and data[0] == 354 and len(refused) < len(recipients):
                conn.sock.sendall(dot_stuffed(raw) + following)
                code, text = conn.getreply()
                if code == 250:
                    outcome = SendResult(code, reply_text(text), refused)
                else:
                    outcome = reply_error(code, text, what="the message", server=where)
                closing = closing or code == CLOSING
            else:
                if data[0] == 354:
                    # A server that took DATA with no recipient left: end it with nothing.
                    conn.sock.sendall(b"." + CRLF)
                    conn.getreply()
                if not closing:
                    # MAIL may have opened a transaction that the refusals left open.
                    conn.sock.sendall(b"RSET" + CRLF + following)
                    conn.getreply()
                if mail[0] != 250:
                    outcome = reply_error(*mail, what="the sender", server=where)
                elif len(refused) == len(recipients):
                    outcome = transport.all_refused(refused)
                else:
                    outcome = reply_error(*data, what="the message", server=where)
            if closing:
                transport.close()
                yield index, outcome
                return
            yield index, outcome
    except (OSError, smtplib.SMTPException) as err:
        # The message in flight has no 250: it was not sent, as far as anyone can know.
        transport.connection = None
        conn.close()
        yield index, transport.translate(err)
    except BaseException:
        transport.close()  # replies still in flight would be read as the wrong answers
        raise
