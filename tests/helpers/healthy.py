"""A well-behaved client that keeps asking for acks while a test attacks the server.

Every limit test runs one: it shows that whatever the hostile connection does, the other
clients of the server keep getting their acknowledgements.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gevent
import gevent.event

import sockio_wsgi

ACK_TIMEOUT = 5.0


def echo_server(**kwargs: Any) -> sockio_wsgi.Server:
    """A server whose ``echo`` event acks its arguments."""
    sio = sockio_wsgi.Server(**kwargs)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args[0] if len(args) == 1 else args

    return sio


class HealthyClient:
    """Emits ``echo`` with an ack, one after another, on a greenlet of its own."""

    def __init__(self, url: str, transports: list[str] | None = None) -> None:
        self.client = sockio_wsgi.Client(reconnection=False)
        self.client.connect(url, transports=transports, wait_timeout=ACK_TIMEOUT)
        self.acks = 0
        self._changed = gevent.event.Event()
        self._stop = False
        self._loop = gevent.spawn(self._run)

    def _run(self) -> None:
        n = 0
        while not self._stop:
            n += 1
            reply = self.client.emit_with_ack("echo", n, timeout=ACK_TIMEOUT)
            assert reply == n, (reply, n)
            self.acks += 1
            self._changed.set()

    def wait_acks(self, more: int = 3, timeout: float = 10.0) -> None:
        """Wait until ``more`` acks have come after this call (the loop must not fail)."""
        target = self.acks + more
        with gevent.Timeout(timeout, AssertionError(f"acks stalled at {self.acks}")):
            while self.acks < target:
                if self._loop.dead:
                    self._loop.get()  # raises what ended it
                    raise AssertionError("the healthy client stopped")
                self._changed.clear()
                self._changed.wait()

    def stop(self) -> None:
        self._stop = True
        self._loop.get(timeout=ACK_TIMEOUT * 2)  # re-raises a failed ack
        assert self.client.connected
        self.client.disconnect()


@contextmanager
def healthy_client(url: str, transports: list[str] | None = None) -> Iterator[HealthyClient]:
    """A healthy client with a first ack behind it; on exit it must still be connected."""
    healthy = HealthyClient(url, transports)
    try:
        healthy.wait_acks(1)
        yield healthy
        healthy.wait_acks()
    finally:
        healthy.stop()
