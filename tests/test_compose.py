"""The direct MIME writer says what the email package would, for every reader that parses it."""

from email import policy
from email.parser import BytesParser

import pytest

from outbox.compose import render_direct, render_with_email_package

BASE = dict(
    from_email="app@acme.example",
    from_name="",
    to=["bob@example.com"],
    cc=[],
    reply_to=[],
    subject="Hello",
    text="Hi Bob,\nsee you.\n",
    html=None,
    headers={},
    utf8=False,
    message_id="<m1@acme.example>",
)

CASES = {
    "plain ascii": {},
    "names and subject in other scripts": {"from_name": "Zoë Ünïcode", "subject": "Grüße — 日本"},
    "html only": {"text": None, "html": "<p>Hi <b>Bob</b></p>"},
    "text and html": {
        "html": "<p>Hi</p>",
        "cc": ["carol@example.com"],
        "reply_to": ["help@acme.example"],
    },
    "a line longer than SMTP allows": {"text": "x" * 3000 + "\nend\n"},
    "non-ascii body": {"text": "Prix : 12 €\nÇa va ?\n"},
    "international addresses": {"to": ["zoë@example.com"], "utf8": True, "subject": "Ünï"},
    "many recipients": {"to": [f"user{i}@example.com" for i in range(400)]},
    "windows line ends and custom headers": {"text": "a\r\nb\r\n", "headers": {"X-Tag": "Q3 ü"}},
}


def parse(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def seen(raw: bytes) -> dict:
    msg = parse(raw)
    parts = {}
    for part in msg.walk():
        if part.get_content_maintype() == "text":
            parts[part.get_content_subtype()] = part.get_content().replace("\r\n", "\n")
    return {
        "headers": {
            k: str(msg[k])
            for k in ("From", "To", "Cc", "Reply-To", "Subject", "Message-ID", "X-Tag")
            if msg[k] is not None
        },
        "parts": parts,
    }


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_direct_and_email_package_renderings_read_the_same(case):
    fields = {**BASE, **CASES[case]}
    direct = render_direct(**fields)
    reference = render_with_email_package(**fields, attachments=[])
    assert seen(direct) == seen(reference)
    assert all(len(line) <= 998 for line in direct.split(b"\r\n"))
    assert b"\n" not in direct.replace(b"\r\n", b"")  # CRLF only
    if not fields["utf8"]:
        assert direct.isascii()
