"""Helpers for the Socket.IO interop tests (tests/integration/test_sio_*.py).

``Recorder`` collects what the server's handlers saw and lets a test wait for it with a
deadline (no sleeps). ``RawPolling`` speaks Engine.IO long-polling over ``http.client`` so
a test can play a misbehaving or silent client. ``barrier`` proves that a client has
received everything sent to it before.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import sockio_wsgi
from tests.helpers.node import NodeClient


class Recorder:
    """A thread- and greenlet-safe log of ``(kind, value)`` pairs with waiting."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []
        self._cond = threading.Condition()

    def add(self, kind: str, value: Any = None) -> None:
        with self._cond:
            self.items.append((kind, value))
            self._cond.notify_all()

    def values(self, kind: str) -> list[Any]:
        with self._cond:
            return [value for k, value in self.items if k == kind]

    def wait(
        self, kind: str, match: Callable[[Any], bool] | None = None, timeout: float = 5.0
    ) -> Any:
        """Return the first recorded value of ``kind`` (matching ``match``), waiting."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for k, value in self.items:
                    if k == kind and (match is None or match(value)):
                        return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"nothing of kind {kind!r} within {timeout}s: {self.items}")
                self._cond.wait(remaining)


def connected_sid(client: NodeClient, id: str) -> str:
    """Wait for socket ``id``'s ``connect`` report and return its Socket.IO sid."""
    sid: str = client.wait_for("connect", id=id)["sid"]
    return sid


def socket_of(sio: sockio_wsgi.Server, sid: str, nsp: str = "/") -> sockio_wsgi.Socket:
    """The server-side socket ``sid`` of ``nsp``; it must be connected."""
    socket = sio.get_socket(sid, nsp)
    assert socket is not None, f"no connected socket {sid} on {nsp}"
    return socket


def barrier(sio: sockio_wsgi.Server, client: NodeClient, *ids: str, nsp: str = "/") -> None:
    """Emit ``_barrier`` to each socket and wait for it: everything emitted to them
    before has been delivered (one connection delivers in order)."""
    for id in ids:
        socket_of(sio, client.state(id)["sid"], nsp).emit("_barrier", id)
    for id in ids:
        client.wait_for("event", id=id, event="_barrier")


def received(client: NodeClient, id: str, event: str) -> list[list[Any]]:
    """Args of every ``event`` socket ``id`` has reported so far (consumed or not)."""
    return [
        m["args"]
        for m in client.messages
        if m.get("type") == "event" and m.get("id") == id and m.get("event") == event
    ]


class RawPolling:
    """A hand-driven Engine.IO v4 polling client: one HTTP connection per request, so a
    pending GET never blocks a POST."""

    def __init__(self, port: int, path: str = "/socket.io/") -> None:
        self.port = port
        self.path = path
        self.sid: str | None = None

    def request(
        self, method: str, body: str | None = None, timeout: float = 5.0
    ) -> tuple[int, str]:
        query = {"EIO": "4", "transport": "polling"}
        if self.sid is not None:
            query["sid"] = self.sid
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            headers = {"Content-Type": "text/plain;charset=UTF-8"} if body is not None else {}
            url = self.path + "?" + urllib.parse.urlencode(query)
            conn.request(
                method, url, body=body.encode() if body is not None else None, headers=headers
            )
            response = conn.getresponse()
            return response.status, response.read().decode("utf-8")
        finally:
            conn.close()

    def open(self) -> dict[str, Any]:
        """The handshake: returns the OPEN packet's JSON."""
        status, body = self.request("GET")
        assert status == 200 and body.startswith("0"), (status, body)
        handshake: dict[str, Any] = json.loads(body[1:])
        self.sid = handshake["sid"]
        return handshake

    def post(self, *packets: str) -> tuple[int, str]:
        return self.request("POST", "\x1e".join(packets))

    def poll(self, timeout: float = 5.0) -> list[str]:
        """One GET; the packets it returned."""
        status, body = self.request("GET", timeout=timeout)
        assert status == 200, (status, body)
        return body.split("\x1e")

    def poll_until_closed(self, timeout: float = 5.0) -> list[str]:
        """Poll until the session is over; every packet seen on the way.

        Over means a CLOSE packet (``1``) or, when the session ended while no GET was
        pending, the server no longer knowing the sid (400, recorded as ``"400"``).
        """
        deadline = time.monotonic() + timeout
        seen: list[str] = []
        while time.monotonic() < deadline:
            status, body = self.request("GET", timeout=max(0.1, deadline - time.monotonic()))
            if status == 400 and "Session ID unknown" in body:
                seen.append("400")
                return seen
            assert status == 200, (status, body)
            packets = body.split("\x1e")
            seen.extend(packets)
            if "1" in packets:
                return seen
        raise TimeoutError(f"session {self.sid} not closed within {timeout}s: {seen}")
