"""Real SMTP servers for tests: aiosmtpd on free loopback ports, with TLS and AUTH."""

import asyncio
import collections
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

USERNAME = "mailer@example.com"
PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    at: float = field(default_factory=time.monotonic)
    peer: tuple = ()  # the client's (address, port): one per connection


@dataclass
class Handler:
    """Records accepted messages. Scripted replies let a test make the server misbehave."""

    received: list[Received] = field(default_factory=list)
    # Replies to give to the next DATA commands instead of accepting ("451 ...", "550 ...").
    data_replies: list[str] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_delay: float = 0.0
    logins: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    # Postfix, Exchange Online and Gmail all advertise PIPELINING; aiosmtpd reads pipelined
    # commands fine but does not say so itself.
    pipelining: bool = True

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_delay:
            await asyncio.sleep(self.data_delay)
        with self.lock:
            if self.data_replies:
                return self.data_replies.pop(0)
            self.received.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content or envelope.content,
                    list(envelope.mail_options),
                    peer=tuple(session.peer),
                )
            )
            number = len(self.received)
        return f"250 2.0.0 Ok: queued as TEST{number}"


def authenticator(handler: Handler):
    def check(server, session, envelope, mechanism, auth_data):
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == USERNAME
            and auth_data.password.decode() == PASSWORD
        )
        if ok:
            handler.logins.append(mechanism)
        return AuthResult(success=ok, handled=False)

    return check


class Certificates:
    """A private CA and a certificate for 127.0.0.1, like a company's internal relay."""

    def __init__(self):
        self.ca = trustme.CA()
        self.cert = self.ca.issue_cert("127.0.0.1", "localhost")

    @property
    def ca_pem(self) -> str:
        return self.ca.cert_pem.bytes().decode()

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.cert.configure_cert(context)
        return context


class SSLController(Controller):
    """aiosmtpd's readiness probe needs a TLS client for an implicit-TLS server."""

    def _trigger_server(self):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection((self.hostname, self.port), 1.0) as raw,
            context.wrap_socket(raw) as sock,
        ):
            sock.recv(1024)


def start_server(
    *,
    mode: str = "plain",
    auth: bool = False,
    certificates: Certificates | None = None,
    handler: Handler | None = None,
    exclude_auth: tuple[str, ...] = (),
    smtputf8: bool = True,
    pipelining: bool = True,
):
    """Start a server. mode: plain | starttls (required) | starttls_optional | smtps."""
    handler = handler or Handler()
    handler.pipelining = pipelining
    kwargs = dict(
        hostname="127.0.0.1",
        port=free_port(),
        auth_exclude_mechanism=list(exclude_auth),
        enable_SMTPUTF8=smtputf8,
        decode_data=False,
    )
    if auth:
        kwargs.update(authenticator=authenticator(handler), auth_required=True)
    if mode in ("plain",):
        kwargs["auth_require_tls"] = False
    cls = Controller
    if mode in ("starttls", "starttls_optional"):
        kwargs["tls_context"] = certificates.server_context()
        kwargs["require_starttls"] = mode == "starttls"
    elif mode == "smtps":
        kwargs["ssl_context"] = certificates.server_context()
        kwargs["auth_require_tls"] = False  # aiosmtpd hides AUTH on implicit TLS otherwise
        cls = SSLController
    controller = cls(handler, **kwargs)
    controller.start()
    controller.handler_obj = handler
    return controller


@dataclass
class XOAuth2Handler(Handler):
    """Accepts AUTH XOAUTH2 only with a bearer token the OAuth server signed and still valid."""

    jwks: dict | None = None
    token_logins: list[tuple[str, str]] = field(default_factory=list)
    refused_tokens: int = 0

    async def auth_XOAUTH2(self, server, args):
        import base64

        import jwt
        from aiosmtpd.smtp import MISSING

        blob = args[1] if len(args) > 1 else await server.challenge_auth("")
        if blob is MISSING:
            return AuthResult(success=False, handled=False)
        raw = base64.b64decode(blob).decode() if isinstance(blob, str) else bytes(blob).decode()
        parts = dict(p.split("=", 1) for p in raw.split("\x01") if "=" in p)
        user, bearer = parts.get("user", ""), parts.get("auth", "").removeprefix("Bearer ")
        try:
            header = jwt.get_unverified_header(bearer)
            key = jwt.PyJWKSet.from_dict(self.jwks)[header["kid"]]
            claims = jwt.decode(
                bearer, key.key, algorithms=["RS256"], options={"verify_aud": False}
            )
        except (jwt.PyJWTError, KeyError, ValueError):
            self.refused_tokens += 1
            return AuthResult(success=False, handled=False)
        self.token_logins.append((user, claims.get("sub", "")))
        return AuthResult(success=True, auth_data=user)


class LongAuthSMTP(SMTP):
    """RFC 4954 allows 12,288-byte AUTH lines; a JWT bearer token needs more than 512."""

    command_size_limit = 16384
    # aiosmtpd reads the per-command limits from a mapping whose default is SMTP's own 512.
    command_size_limits = collections.defaultdict(lambda: LongAuthSMTP.command_size_limit)
    line_length_limit = 16384


class XOAuth2Controller(Controller):
    def factory(self):
        return LongAuthSMTP(self.handler, **self.SMTP_kwargs)


def start_xoauth2_server(jwks: dict, *, certificates: Certificates):
    """STARTTLS-required SMTP that offers only XOAUTH2, like smtp.office365.com:587."""
    handler = XOAuth2Handler(jwks=jwks)

    def no_password_logins(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    controller = XOAuth2Controller(
        handler,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=certificates.server_context(),
        require_starttls=True,
        authenticator=no_password_logins,
        auth_required=True,
        auth_exclude_mechanism=["PLAIN", "LOGIN"],
        decode_data=False,
    )
    controller.start()
    controller.handler_obj = handler
    return controller


@dataclass
class FlakyHandler(Handler):
    """Fails a fraction of commands the ways real servers do: 421 at EHLO, 451 after RCPT,
    and the connection dropped during DATA. Deterministic (every `every`-th), not random."""

    every: int = 4
    counts: dict = field(default_factory=lambda: {"ehlo": 0, "rcpt": 0, "data": 0})
    injected: int = 0

    def _fails(self, command: str) -> bool:
        with self.lock:
            self.counts[command] += 1
            failing = self.counts[command] % self.every == 0
            self.injected += failing
            return failing

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        if self._fails("ehlo"):
            return ["421 4.3.2 Service not available, closing transmission channel"]
        return await super().handle_EHLO(server, session, envelope, hostname, responses)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self._fails("rcpt"):
            return "451 4.3.0 Temporary failure, try again"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)

    async def handle_DATA(self, server, session, envelope):
        if self._fails("data"):
            server.transport.abort()  # the connection drops before any reply
            return "451 dropped"
        return await super().handle_DATA(server, session, envelope)
