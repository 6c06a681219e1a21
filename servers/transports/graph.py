"""Microsoft Graph `POST {endpoint}/users/{mailbox}/sendMail`, the JSON form Microsoft documents.

The outbox keeps rendered MIME; this transport reads it back into Graph's message resource
(subject, body, recipients, reply-to, attachments, x- headers). 202 is success; 429 and 5xx
honour Retry-After; a 401 refreshes the token once; other 4xx fail with Graph's code.
"""

import base64
from email import policy
from email.parser import BytesParser
from email.utils import getaddresses
from urllib.parse import quote

import requests

from accounts.tokens import get_access_token
from mailadmin.errors import AuthenticationError, ConfigurationError, TransportError

from .base import SendResult, Transport


def _recipient(address: str, name: str = "") -> dict:
    email = {"address": address}
    if name:
        email["name"] = name
    return {"emailAddress": email}


def graph_message(raw: bytes, recipients: list[str]) -> dict:
    """Graph's message resource for a rendered message and its envelope recipients."""
    mime = BytesParser(policy=policy.default).parsebytes(raw)
    to = getaddresses(mime.get_all("To", []))
    cc = getaddresses(mime.get_all("Cc", []))
    listed = {a.lower() for _, a in to + cc}
    # Everyone in the envelope but not in To/Cc was a Bcc (or a staging override).
    bcc = [a for a in recipients if a.lower() not in listed]
    envelope = {a.lower() for a in recipients}
    body = mime.get_body(preferencelist=("html", "plain"))
    message = {
        "subject": str(mime.get("Subject", "")),
        "body": {
            "contentType": "HTML" if body and body.get_content_subtype() == "html" else "Text",
            # The stored MIME has SMTP's CRLF line ends; Graph's JSON wants plain newlines.
            "content": body.get_content().replace("\r\n", "\n") if body else "",
        },
        "toRecipients": [_recipient(a, n) for n, a in to if a.lower() in envelope],
        "ccRecipients": [_recipient(a, n) for n, a in cc if a.lower() in envelope],
        "bccRecipients": [_recipient(a) for a in bcc],
        "internetMessageId": str(mime.get("Message-ID", "")),
    }
    if reply_to := getaddresses(mime.get_all("Reply-To", [])):
        message["replyTo"] = [_recipient(a, n) for n, a in reply_to]
    sender = getaddresses(mime.get_all("From", []))
    if sender:
        message["from"] = _recipient(sender[0][1], sender[0][0])
    headers = [{"name": k, "value": str(v)} for k, v in mime.items() if k.lower().startswith("x-")]
    if headers:
        message["internetMessageHeaders"] = headers
    attachments = [
        {
            "@odata.type": "#microsoft.graph.fileAttachment",
            "name": part.get_filename() or "attachment",
            "contentType": part.get_content_type(),
            "contentBytes": base64.b64encode(part.get_payload(decode=True) or b"").decode(),
        }
        for part in mime.iter_attachments()
    ]
    if attachments:
        message["attachments"] = attachments
    return message


def graph_error(response: requests.Response, *, where: str) -> Exception:
    try:
        error = response.json().get("error", {})
    except ValueError:
        error = {}
    code = error.get("code") or f"HTTP {response.status_code}"
    words = f"{code}: {error.get('message') or response.reason}"
    status = response.status_code
    if status == 429 or status >= 500:
        retry_after = response.headers.get("Retry-After", "")
        err = TransportError(
            f"Microsoft Graph asked to wait ({status} {words}).",
            hint="It will be retried after the time Graph asked for.",
            code=status,
            reply=words,
            server=where,
            retryable=True,
        )
        err.retry_after = float(retry_after) if retry_after.isdigit() else None
        return err
    if status == 401:
        return AuthenticationError(
            f"Microsoft Graph refused the token ({words}).",
            hint="Check that the app has the Mail.Send application permission with admin "
            "consent, and that the auth account's directory ID is the mailbox's tenant.",
            code=status,
            reply=words,
            server=where,
        )
    hints = {
        403: "The app may not send as this mailbox: grant Mail.Send (application) with admin "
        "consent, and check any application access policy that limits mailboxes.",
        404: "Graph does not know this mailbox: check the server's Graph mailbox.",
    }
    return TransportError(
        f"Microsoft Graph refused the message ({status} {words}).",
        hint=hints.get(status, "Read Graph's words above; it will not be retried as it is."),
        code=status,
        reply=words,
        server=where,
        retryable=False,
    )


class GraphTransport(Transport):
    connection: requests.Session | None = None

    @property
    def mailbox(self) -> str:
        return self.server.graph_mailbox or self.server.default_from

    @property
    def url(self) -> str:
        base = self.server.graph_endpoint.rstrip("/")
        return f"{base}/users/{quote(self.mailbox, safe='@')}/sendMail"

    def open(self) -> bool:
        if self.connection is not None:
            return False
        account = self.server.auth_account
        if account is None:
            raise ConfigurationError("A Graph server needs an auth account.")
        with self.trace.step("token") as step:
            get_access_token(account)
            if step:
                step.detail = f"token for {account.name} valid until {account.token_expires_at}"
        self.connection = requests.Session()
        self.connection.headers["User-Agent"] = "mailadmin"
        return True

    def close(self) -> None:
        session, self.connection = self.connection, None
        if session is not None:
            session.close()

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> SendResult:
        self.open()
        body = {"message": graph_message(raw, recipients)}
        if not self.server.save_to_sent_items:
            body["saveToSentItems"] = False  # Graph's default is true; say it only when false
        account = self.server.auth_account
        with self.trace.step("Graph sendMail") as step:
            for attempt in range(2):
                token = get_access_token(account, force_refresh=attempt == 1)
                try:
                    response = self.connection.post(
                        self.url,
                        json=body,
                        headers={"Authorization": f"Bearer {token}"},
                        timeout=self.server.timeout_seconds,
                    )
                except requests.RequestException as err:
                    raise TransportError(
                        f"Microsoft Graph at {self.server.graph_endpoint} cannot be reached "
                        f"({type(err).__name__}).",
                        hint="It will be retried.",
                        server=self.url,
                        retryable=True,
                    ) from err
                if response.status_code == 202:
                    if step:
                        step.detail = "202 Accepted"
                    return SendResult(202, "Accepted by Microsoft Graph")
                if response.status_code != 401 or attempt == 1:
                    raise graph_error(response, where=self.url)
        raise AssertionError("unreachable")  # pragma: no cover
