"""Step-by-step connection check behind `POST .../servers/{name}/test`."""

import contextlib
import socket

from mailadmin.errors import MailError, TransportError
from outbox.compose import render

from .transports import Trace, transport_for


def run_diagnostics(server, *, send_to: str | None = None) -> dict:
    """Each step of connecting (and, with `send_to`, sending): name, ok, ms, detail, hint."""
    trace = Trace(enabled=True)
    with contextlib.suppress(MailError):  # a failure is already recorded in its step
        if server.transport == "smtp":
            _resolve(server, trace)
        _open_and_send(server, trace, send_to)
    steps = [vars(s) for s in trace.steps]
    return {"ok": all(s["ok"] for s in steps), "steps": steps}


def _resolve(server, trace: Trace) -> None:
    with trace.step("DNS") as step:
        try:
            infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
        except socket.gaierror as err:
            raise TransportError(
                f"The host name '{server.host}' cannot be resolved ({err.strerror}).",
                hint="Check the host name for typos.",
            ) from err
        step.detail = ", ".join(sorted({info[4][0] for info in infos}))


def _open_and_send(server, trace: Trace, send_to: str | None) -> None:
    transport = transport_for(server, trace=trace)
    try:
        transport.open()
        if send_to:
            sender = server.default_from or getattr(server.auth_account, "username", "")
            raw, _ = render(
                from_email=sender,
                from_name=server.default_from_name,
                to=[send_to],
                cc=[],
                reply_to=[],
                subject=f"mailadmin connection test of server {server.name}",
                text="This message was sent by a connection test.\n",
                html=None,
                headers={},
                attachments=[],
                utf8=not (sender.isascii() and send_to.isascii()),
            )
            transport.send(sender, [send_to], raw)
    finally:
        transport.close()
