"""SMTP and SMTPS on smtplib, with every security mode, AUTH PLAIN/LOGIN and SMTPUTF8."""

import functools
import smtplib
import socket
import ssl

from mailadmin.errors import (
    AuthenticationError,
    ConfigurationError,
    MailError,
    RecipientsRefused,
    TransportError,
)

from ..models import Security
from .base import SendResult, Transport
from .pipeline import send_pipelined
from .replies import reply_error, reply_text

CERT_HINT = (
    "If the server uses a private or self-signed certificate, paste its CA certificate (PEM) "
    "into 'CA certificates'. Turn certificate validation off only for testing."
)


@functools.cache
def local_hostname() -> str:
    # socket.getfqdn() can take seconds on a machine with slow DNS; ask once per process.
    return socket.getfqdn()


def tls_context(server) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if server.ca_certificates.strip():
        context.load_verify_locations(cadata=server.ca_certificates)
    if not server.verify_certificate:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class SmtpTransport(Transport):
    connection: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.server.host}:{self.server.port}"

    def open(self) -> bool:
        if self.connection is not None:
            return False
        server = self.server
        mode = server.effective_security
        try:
            with self.trace.step("tls context"):
                context = tls_context(server) if mode != Security.NONE else None
            if mode == Security.SSL_ON_CONNECT:
                conn = smtplib.SMTP_SSL(
                    local_hostname=local_hostname(),
                    timeout=server.timeout_seconds,
                    context=context,
                )
            else:
                conn = smtplib.SMTP(local_hostname=local_hostname(), timeout=server.timeout_seconds)
            # smtplib takes the TLS server name (SNI, hostname check) from the constructor's
            # host, which is not passed so that connecting can be traced as its own step.
            conn._host = server.host
            self.connection = conn
            with self.trace.step(
                "connect (TLS)" if mode == Security.SSL_ON_CONNECT else "connect"
            ) as s:
                code, banner = conn.connect(server.host, server.port)
                if code != 220:
                    raise reply_error(code, banner, what="the connection", server=self.where)
                if s:
                    s.detail = f"{code} {reply_text(banner)}"
            with self.trace.step("EHLO") as s:
                self._ehlo(conn)
                if s:
                    s.detail = ", ".join(sorted(conn.esmtp_features))
            if mode in (Security.STARTTLS, Security.STARTTLS_WHEN_AVAILABLE):
                if conn.has_extn("starttls"):
                    with self.trace.step("STARTTLS"):
                        code, resp = conn.starttls(context=context)
                        self._ehlo(conn)
                elif mode == Security.STARTTLS:
                    raise ConfigurationError(
                        f"{self.where} does not offer STARTTLS, and the security mode requires it.",
                        hint="Use 'SSL on connect' if the port is 465, or 'STARTTLS when "
                        "available' if plain text is acceptable on this network.",
                        server=self.where,
                    )
            account = server.auth_account
            login = account.provider.smtp_login(account) if account is not None else None
            if login is not None:
                with self.trace.step("AUTH") as s:
                    self._login(conn, login)
                    if s:
                        s.detail = f"logged in as {login.username}"
        except BaseException as err:
            self.close()
            self._raise_translated(err)
        return True

    def _ehlo(self, conn: smtplib.SMTP) -> None:
        code, resp = conn.ehlo()
        if code != 250:
            code, resp = conn.helo()
            if code != 250:
                raise reply_error(code, resp, what="EHLO/HELO", server=self.where)

    def _login(self, conn: smtplib.SMTP, login) -> None:
        if not conn.has_extn("auth"):
            raise ConfigurationError(
                f"{self.where} does not offer AUTH on this connection.",
                hint="Many servers offer AUTH only after TLS: choose STARTTLS or SSL on connect. "
                "For an open relay, remove the auth account from the server.",
                server=self.where,
            )
        offered = conn.esmtp_features["auth"].upper().split()
        if login.mechanism == "password":
            for mechanism in ("PLAIN", "LOGIN"):
                if mechanism in offered:
                    conn.user, conn.password = login.username, login.secret
                    authobject = getattr(conn, "auth_" + mechanism.lower())
                    code, resp = conn.auth(mechanism, authobject, initial_response_ok=True)
                    if code == 235:
                        return
                    raise smtplib.SMTPAuthenticationError(code, resp)
            raise ConfigurationError(
                f"{self.where} offers AUTH {' '.join(offered)}, but neither PLAIN nor LOGIN.",
                hint="Use an auth account kind the server supports.",
                server=self.where,
            )
        if login.mechanism == "xoauth2":
            if "XOAUTH2" not in offered:
                raise ConfigurationError(
                    f"{self.where} does not offer AUTH XOAUTH2 (it offers {' '.join(offered)}).",
                    hint="Check host and port: OAuth accounts need a server that accepts "
                    "XOAUTH2, such as smtp.office365.com or smtp.gmail.com on 587.",
                    server=self.where,
                )
            code, resp = self._xoauth2(conn, login.username, login.secret)
            if code in (334, 535) and login.renew is not None:
                # An expired or revoked token: get a fresh one once and try again.
                code, resp = self._xoauth2(conn, login.username, login.renew())
            if code == 235:
                return
            raise smtplib.SMTPAuthenticationError(code, resp)
        raise ConfigurationError(f"Unknown SMTP login mechanism '{login.mechanism}'.")

    @staticmethod
    def _xoauth2(conn: smtplib.SMTP, username: str, token: str):
        initial = f"user={username}\x01auth=Bearer {token}\x01\x01"

        def respond(challenge=None):
            # After a failure the server sends a 334 with an error document; an empty answer
            # ends the exchange with its final 535.
            return initial if challenge is None else ""

        try:
            return conn.auth("XOAUTH2", respond, initial_response_ok=True)
        except smtplib.SMTPAuthenticationError as err:
            return err.smtp_code, err.smtp_error

    def close(self) -> None:
        conn, self.connection = self.connection, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def mail_options(self, envelope_from: str, recipients: list[str]) -> list[str]:
        """MAIL FROM parameters for this message on the open connection."""
        conn = self.connection
        options: list[str] = []
        if not all(a.isascii() for a in (envelope_from, *recipients)):
            if not self.server.allow_utf8:
                raise ConfigurationError(
                    "This message has international (non-ASCII) addresses, and the server "
                    "does not allow UTF-8.",
                    hint="Turn on 'Allow UTF-8' for the server if it supports SMTPUTF8.",
                )
            if not conn.has_extn("smtputf8"):
                raise ConfigurationError(
                    f"{self.where} does not support SMTPUTF8, needed for international addresses.",
                    hint="Use a server that supports SMTPUTF8, or ASCII addresses.",
                )
            options.append("SMTPUTF8")
        if conn.has_extn("8bitmime"):
            options.append("BODY=8BITMIME")
        return options

    def send_many(self, items):
        if self.connection is None:
            try:
                self.open()
            except MailError as err:
                # The reason holds for every message of the batch (a retryable one makes the
                # caller stop at the first and put the rest back).
                for index in range(len(items)):
                    yield index, err
                return
        if self.trace.enabled or not self.connection.has_extn("pipelining"):
            yield from super().send_many(items)
        else:
            yield from send_pipelined(self, items)

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> SendResult:
        if self.connection is None:
            self.open()
        conn = self.connection
        options = self.mail_options(envelope_from, recipients)
        try:
            with self.trace.step("MAIL FROM") as s:
                code, resp = conn.mail(envelope_from, options)
                if code != 250:
                    raise reply_error(code, resp, what="the sender", server=self.where)
                if s:
                    s.detail = f"{code} {reply_text(resp)}"
            refused = {}
            with self.trace.step("RCPT TO") as s:
                for rcpt in recipients:
                    code, resp = conn.rcpt(rcpt)
                    if code not in (250, 251):
                        refused[rcpt] = (code, reply_text(resp))
                if len(refused) == len(recipients):
                    raise self.all_refused(refused)
                if s:
                    s.detail = f"{len(recipients) - len(refused)} accepted, {len(refused)} refused"
            with self.trace.step("DATA") as s:
                code, resp = conn.data(raw)
                if code != 250:
                    raise reply_error(code, resp, what="the message", server=self.where)
                if s:
                    s.detail = f"{code} {reply_text(resp)}"
            return SendResult(code, reply_text(resp), refused)
        except BaseException as err:
            self._reset_after(err)
            self._raise_translated(err)

    def all_refused(self, refused: dict) -> RecipientsRefused:
        # Retry only when every refusal was temporary (4xx): a 5xx for any one is final.
        temporary = all(400 <= code < 500 for code, _ in refused.values())
        code, text = next(iter(refused.values()))
        listing = "; ".join(f"{a}: {c} {t}" for a, (c, t) in refused.items())
        return RecipientsRefused(
            f"The server refused every recipient: {listing}",
            hint="Check the addresses; a 4xx refusal is retried."
            if temporary
            else "Check the addresses, and that the account may send to them.",
            refused=refused,
            code=code,
            reply=text,
            server=self.where,
            retryable=temporary,
        )

    def _reset_after(self, err: BaseException) -> None:
        """Leave a reusable connection after a refused message; drop one that broke."""
        if isinstance(err, MailError) and self.connection is not None:
            try:
                self.connection.rset()
                return
            except (smtplib.SMTPException, OSError):
                pass
        self.close()

    def _raise_translated(self, err: BaseException):
        translated = self.translate(err)
        self.trace.annotate(translated)
        if translated is err:
            raise err
        raise translated from err

    def translate(self, err: BaseException) -> BaseException:
        where = self.where
        if isinstance(err, MailError):
            return err
        if isinstance(err, ssl.SSLCertVerificationError):
            return ConfigurationError(
                f"The TLS certificate of {where} could not be verified: {err.verify_message}.",
                hint=CERT_HINT,
                server=where,
            )
        if isinstance(err, ssl.SSLError):
            return ConfigurationError(
                f"The TLS handshake with {where} failed ({err.reason or err}).",
                hint="Check the security mode against the port: 465 uses SSL on connect, "
                "587 and 25 use STARTTLS.",
                server=where,
            )
        if isinstance(err, smtplib.SMTPAuthenticationError):
            text = reply_text(err.smtp_error)
            if 400 <= err.smtp_code < 500:
                return reply_error(err.smtp_code, err.smtp_error, what="the login", server=where)
            return AuthenticationError(
                f"{where} refused the login: {err.smtp_code} {text}",
                hint="Check the auth account's username and password (some providers need "
                "an app password).",
                code=err.smtp_code,
                reply=text,
                server=where,
            )
        if isinstance(err, smtplib.SMTPServerDisconnected):
            return TransportError(
                f"{where} closed the connection unexpectedly.",
                hint="It will be retried. If it keeps happening, check the security mode.",
                server=where,
                retryable=True,
            )
        if isinstance(err, smtplib.SMTPResponseException):
            return reply_error(err.smtp_code, err.smtp_error, what="the command", server=where)
        if isinstance(err, socket.gaierror):
            return TransportError(
                f"The host name '{self.server.host}' cannot be resolved.",
                hint="Check the host name.",
                server=where,
                retryable=True,
            )
        if isinstance(err, ConnectionRefusedError):
            return TransportError(
                f"{where} refused the connection.",
                hint="Check host and port, and that the server is running; it will be retried.",
                server=where,
                retryable=True,
            )
        if isinstance(err, TimeoutError | socket.timeout):
            return TransportError(
                f"{where} did not answer within {self.server.timeout_seconds:g} s.",
                hint="It will be retried. If it persists, check host, port and firewalls.",
                server=where,
                retryable=True,
            )
        if isinstance(err, OSError | smtplib.SMTPException):
            return TransportError(
                f"Talking to {where} failed: {err}",
                hint="It will be retried.",
                server=where,
                retryable=True,
            )
        return err
