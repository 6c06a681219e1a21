"""The explicit registry of transports, by ServerConfig.transport."""

from .base import SendResult, Step, Trace, Transport
from .smtp import SmtpTransport

TRANSPORTS: dict[str, type[Transport]] = {"smtp": SmtpTransport}


def transport_for(server, *, trace: Trace | None = None) -> Transport:
    return TRANSPORTS[server.transport](server, trace=trace)


__all__ = ["SendResult", "Step", "Trace", "Transport", "transport_for"]
