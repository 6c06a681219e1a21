"""ESMTP PIPELINING against a real aiosmtpd server: the same outcomes as one command at a time,
in one write per message."""

import pytest

from mailadmin.errors import ConfigurationError, MailError, RecipientsRefused, TransportError
from servers.transports import SendResult, transport_for
from servers.transports.pipeline import dot_stuffed

from .smtp_server import Handler, start_server
from .test_smtp_transport import server_for


def raw(n: int, body: str = "Hello") -> bytes:
    return f"From: app@acme.example\r\nSubject: m{n}\r\n\r\n{body}\r\n".encode()


ITEMS = [
    ("app@acme.example", ["spam@example.com"], raw(0)),  # its DATA gets the scripted 554
    ("app@acme.example", ["a@example.com"], raw(1)),
    ("app@acme.example", ["b@example.com", "nobody@example.com"], raw(2)),
    ("app@acme.example", ["gone@example.com"], raw(3)),
    ("app@acme.example", ["later@example.com"], raw(4)),
    ("app@acme.example", ["dots@example.com"], raw(5, ".hidden\r\n.\r\n..two\r\nend")),
    ("app@acme.example", ["last@example.com"], raw(6)),
]


def scripted_server(pipelining: bool):
    handler = Handler(
        data_replies=["554 5.7.1 Looks like spam"],
        rcpt_replies={
            "nobody@example.com": "550 5.1.1 No such user",
            "gone@example.com": "550 5.1.1 No such user",
            "later@example.com": "451 4.3.0 Try again later",
        },
    )
    return start_server(handler=handler, pipelining=pipelining)


def summary(outcome) -> tuple:
    if isinstance(outcome, SendResult):
        return ("sent", outcome.code, sorted(outcome.refused))
    return (type(outcome).__name__, outcome.code, outcome.retryable)


@pytest.mark.parametrize("pipelining", [True, False])
def test_each_message_gets_its_own_outcome_with_or_without_pipelining(pipelining):
    controller = scripted_server(pipelining)
    try:
        with transport_for(server_for(controller)) as transport:
            assert transport.connection.has_extn("pipelining") == pipelining
            outcomes = list(transport.send_many(ITEMS))
            assert transport.connection is not None  # nothing here breaks the connection
    finally:
        controller.stop()
    assert [index for index, _ in outcomes] == list(range(len(ITEMS)))
    assert [summary(o) for _, o in outcomes] == [
        ("TransportError", 554, False),
        ("sent", 250, []),
        ("sent", 250, ["nobody@example.com"]),
        ("RecipientsRefused", 550, False),
        ("RecipientsRefused", 451, True),
        ("sent", 250, []),
        ("sent", 250, []),
    ]
    assert "Looks like spam" in outcomes[0][1].message
    received = controller.handler_obj.received
    assert [r.rcpt_tos for r in received] == [
        ["a@example.com"],
        ["b@example.com"],
        ["dots@example.com"],
        ["last@example.com"],
    ]
    # Dot-stuffing is undone by the server: the message arrives as it was written.
    assert received[2].content.rstrip(b"\r\n") == ITEMS[5][2].rstrip(b"\r\n")


class CountingSocket:
    """The real socket, counting the writes the client makes."""

    def __init__(self, sock):
        self.sock = sock
        self.writes = 0

    def sendall(self, data, *args):
        self.writes += 1
        return self.sock.sendall(data, *args)

    def __getattr__(self, name):
        return getattr(self.sock, name)


@pytest.mark.parametrize("pipelining, most_writes", [(True, 22), (False, 80)])
def test_pipelining_takes_one_write_per_message(pipelining, most_writes):
    controller = start_server(pipelining=pipelining)
    items = [("app@acme.example", [f"u{i}@example.com"], raw(i)) for i in range(20)]
    try:
        with transport_for(server_for(controller)) as transport:
            counter = transport.connection.sock = CountingSocket(transport.connection.sock)
            outcomes = [o for _, o in transport.send_many(items)]
    finally:
        controller.stop()
    assert all(isinstance(o, SendResult) for o in outcomes)
    assert len(controller.handler_obj.received) == 20
    if pipelining:
        assert counter.writes <= most_writes  # first envelope, 20 × (body + next envelope), QUIT
    else:
        assert counter.writes >= most_writes  # MAIL, RCPT, DATA, body: four round trips each


class DropsThirdData(Handler):
    async def handle_DATA(self, server, session, envelope):
        if len(self.received) == 2:
            server.transport.abort()  # the connection drops before any reply
            return "451 dropped"
        return await super().handle_DATA(server, session, envelope)


def send_until_closed(handler: Handler, count: int) -> list:
    """Send `count` messages to a server that ends the connection part way; the outcomes."""
    controller = start_server(handler=handler)
    items = [("app@acme.example", [f"u{i}@example.com"], raw(i)) for i in range(count)]
    try:
        with transport_for(server_for(controller)) as transport:
            outcomes = list(transport.send_many(items))
            assert transport.connection is None
    finally:
        controller.stop()
    return outcomes


def test_a_dropped_connection_ends_the_batch_and_leaves_the_rest_unsent():
    handler = DropsThirdData()
    outcomes = send_until_closed(handler, 6)
    assert [i for i, _ in outcomes] == [0, 1, 2]
    assert isinstance(outcomes[0][1], SendResult) and isinstance(outcomes[1][1], SendResult)
    err = outcomes[2][1]
    assert isinstance(err, TransportError) and err.retryable
    assert "closed the connection" in err.message
    assert len(handler.received) == 2


def test_a_server_saying_421_is_taken_as_closing():
    handler = Handler(rcpt_replies={"u1@example.com": "421 4.3.2 Shutting down"})
    outcomes = send_until_closed(handler, 4)
    assert [i for i, _ in outcomes] == [0, 1]
    assert isinstance(outcomes[1][1], RecipientsRefused) and outcomes[1][1].retryable
    assert [r.rcpt_tos for r in handler.received] == [["u0@example.com"]]


def test_a_message_that_cannot_go_on_this_server_fails_alone():
    controller = start_server()
    items = [
        ("app@acme.example", ["a@example.com"], raw(0)),
        ("app@acme.example", ["jörg@example.com"], raw(1)),  # the server does not allow UTF-8
        ("app@acme.example", ["b@example.com"], raw(2)),
    ]
    try:
        with transport_for(server_for(controller, allow_utf8=False)) as transport:
            outcomes = dict(transport.send_many(items))
    finally:
        controller.stop()
    assert isinstance(outcomes[1], ConfigurationError) and "Allow UTF-8" in outcomes[1].hint
    assert isinstance(outcomes[0], SendResult) and isinstance(outcomes[2], SendResult)
    assert [r.rcpt_tos for r in controller.handler_obj.received] == [
        ["a@example.com"],
        ["b@example.com"],
    ]


def test_a_server_that_cannot_be_reached_gives_every_message_the_reason():
    items = [("app@acme.example", ["a@example.com"], raw(0))] * 3
    transport = transport_for(server_for(None))
    outcomes = list(transport.send_many(items))
    assert [i for i, _ in outcomes] == [0, 1, 2]
    assert all(isinstance(o, MailError) and o.retryable for _, o in outcomes)
    assert "refused the connection" in outcomes[0][1].message


def test_dot_stuffing_matches_smtplib():
    assert dot_stuffed(b".a\r\nb\r\n.\r\n") == b"..a\r\nb\r\n..\r\n.\r\n"
    assert dot_stuffed(b"no newline") == b"no newline\r\n.\r\n"
