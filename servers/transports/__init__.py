"""The explicit registry of transports, by ServerConfig.transport."""

from .base import SendResult, Step, Trace, Transport
from .graph import GraphTransport
from .smtp import SmtpTransport

TRANSPORTS: dict[str, type[Transport]] = {"smtp": SmtpTransport, "graph": GraphTransport}


def transport_for(server, *, trace: Trace | None = None) -> Transport:
    return TRANSPORTS[server.transport](server, trace=trace)


__all__ = ["SendResult", "Step", "Trace", "Transport", "transport_for"]
