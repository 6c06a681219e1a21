"""The shape every transport shares, after Django's BaseEmailBackend.

`open()` connects (and logs in) once, `send()` may be called many times on that connection,
`close()` closes only what `open()` opened. Used as a context manager for a batch.
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from mailadmin.errors import MailError


@dataclass
class SendResult:
    code: int
    reply: str
    # Recipients the server refused while accepting the others: {address: (code, reply)}.
    refused: dict = field(default_factory=dict)


@dataclass
class Step:
    step: str
    ok: bool
    ms: float
    detail: str = ""
    hint: str = ""


class Trace:
    """Records each step of a conversation (for diagnostics). The default records nothing."""

    def __init__(self, enabled: bool = False):
        self.enabled = enabled
        self.steps: list[Step] = []

    @contextmanager
    def step(self, name: str):
        if not self.enabled:
            yield None
            return
        start = time.perf_counter()
        record = Step(name, True, 0.0)
        try:
            yield record
        except Exception as err:
            record.ok = False
            record.detail = record.detail or getattr(err, "message", str(err))
            record.hint = getattr(err, "hint", "")
            raise
        finally:
            record.ms = round((time.perf_counter() - start) * 1000, 1)
            self.steps.append(record)

    def annotate(self, err) -> None:
        """Put a translated error's sentence and hint on the step that failed."""
        if self.enabled and self.steps and not self.steps[-1].ok:
            self.steps[-1].detail = getattr(err, "message", str(err))
            self.steps[-1].hint = getattr(err, "hint", "")


class Transport:
    def __init__(self, server, *, trace: Trace | None = None):
        self.server = server
        self.trace = trace or Trace()

    def open(self) -> bool:
        """Connect if not connected. Returns True when this call opened the connection."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def send(self, envelope_from: str, recipients: list[str], raw: bytes) -> SendResult:
        """Send one rendered message; raise a MailError subclass when it was not accepted."""
        raise NotImplementedError

    def send_many(self, items):
        """Send several messages, given as (envelope_from, recipients, raw), on this connection.

        Yields (index, SendResult or MailError) as each outcome is known. It may stop early
        when the connection is lost (`connection` is then None): the items it did not yield
        were not sent. Transports that can do better than one at a time override it.
        """
        for index, (envelope_from, recipients, raw) in enumerate(items):
            try:
                yield index, self.send(envelope_from, recipients, raw)
            except MailError as err:
                yield index, err

    def __enter__(self):
        self.open()
        return self

    def __exit__(self, *exc_info):
        self.close()
