"""Client behaviours of the soak test, each a bounded loop on a plain thread.

Well-behaved clients use ``sockio_wsgi.Client``; the misbehaving ones speak the wire by
hand (wsproto for WebSocket framing, ``http.client`` for long-polling) because our client
never misbehaves on purpose. Every socket operation has a timeout and every loop ends
when the run's stop event is set, so the harness always finishes. What each behaviour
did is counted in a shared ``Tally``.
"""

from __future__ import annotations

import contextlib
import errno
import http.client
import json
import logging
import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from soak_params import QUIET_NAMESPACE
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    RejectConnection,
    Request,
    TextMessage,
)

import sockio_wsgi

log = logging.getLogger("soak.clients")

HOST = "127.0.0.1"  # the only host the soak test sends traffic to
EIO_PATH = "/socket.io/"
IO_TIMEOUT = 5.0
TINY_RCVBUF = 4096  # the kernel doubles it; still a few KiB, so a slow reader lags at once


class Tally:
    """Thread-safe counts of what the clients did, keyed ``behaviour.outcome``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def add(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._counts[key] += n

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))


@dataclass
class Context:
    """What every behaviour needs: where the server is, when to stop, where to count."""

    port: int
    stop: threading.Event
    tally: Tally
    ping_interval: float
    rng: random.Random = field(default_factory=random.Random)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def pause(self, seconds: float) -> bool:
        """Sleep unless the run stops first; True when it is time to stop."""
        return self.stop.wait(seconds)


Behaviour = Callable[[Context], None]


class Worker(threading.Thread):
    """Runs one behaviour again and again until the run stops (or ``max_rounds``).

    A failed round is counted by exception type and the loop goes on: a client that
    cannot connect is an outcome to report, not a reason to end the soak."""

    def __init__(
        self, name: str, behaviour: Behaviour, ctx: Context, gap: float, max_rounds: int
    ) -> None:
        super().__init__(name=f"soak-{name}", daemon=True)
        self.label = name
        self.behaviour = behaviour
        self.ctx = ctx
        self.gap = gap
        self.max_rounds = max_rounds

    def run(self) -> None:
        for _ in range(self.max_rounds):
            if self.ctx.stop.is_set():
                return
            try:
                self.behaviour(self.ctx)
                self.ctx.tally.add(f"{self.label}.rounds")
            except Exception as exc:  # counted and reported; the soak goes on
                self.ctx.tally.add(f"{self.label}.failed.{type(exc).__name__}")
                log.debug("%s: %r", self.label, exc)
            if self.ctx.pause(self.gap):
                return


# -- well-behaved clients -------------------------------------------------------------


def churn(transports: list[str] | None, round_trips: int = 3) -> Behaviour:
    """Connect, make a few acked round trips, disconnect."""
    label = "+".join(transports) if transports else "upgrade"

    def behaviour(ctx: Context) -> None:
        client = sockio_wsgi.Client(reconnection=False)
        try:
            client.connect(ctx.url, transports=transports, wait_timeout=IO_TIMEOUT)
            ctx.tally.add(f"churn.{label}.connected")
            for i in range(round_trips):
                if client.emit_with_ack("echo", i, timeout=IO_TIMEOUT) != i:
                    ctx.tally.add(f"churn.{label}.wrong_ack")
                ctx.tally.add("churn.acks")
        finally:
            client.disconnect()

    return behaviour


class SteadyClient:
    """A client connected for the whole run that counts the server's broadcasts."""

    def __init__(self, ctx: Context, transports: list[str] | None) -> None:
        self.ctx = ctx
        self.transports = transports
        self.label = "+".join(transports) if transports else "upgrade"
        self.client = sockio_wsgi.Client(reconnection_delay=0.5, reconnection_delay_max=2)
        self.client.on("tick", self._tick)
        self.client.on("connect", self._connected)
        self.client.on("disconnect", self._disconnected)

    def _tick(self, data: Any) -> None:
        self.ctx.tally.add("steady.ticks")

    def _connected(self) -> None:
        self.ctx.tally.add(f"steady.{self.label}.connects")

    def _disconnected(self, reason: str) -> None:
        self.ctx.tally.add(f"steady.disconnects.{reason}")

    def connect(self) -> None:
        self.client.connect(self.ctx.url, transports=self.transports, wait_timeout=IO_TIMEOUT)

    def close(self) -> None:
        self.client.disconnect()


# -- raw WebSocket --------------------------------------------------------------------


class ServerClosed(Exception):
    """The server closed or reset the connection."""


class RawWebSocket:
    """A WebSocket-only Engine.IO connection spoken by hand, with a tiny receive buffer."""

    def __init__(self, port: int, rcvbuf: int | None = TINY_RCVBUF) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.settimeout(IO_TIMEOUT)
        if rcvbuf is not None:  # before connect, so the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.conn = WSConnection(ConnectionType.CLIENT)
        self.text = ""  # a text message still arriving in fragments
        try:
            self.sock.connect((HOST, port))
            target = f"{EIO_PATH}?EIO=4&transport=websocket"
            self.sock.sendall(self.conn.send(Request(host=f"{HOST}:{port}", target=target)))
            self._await_accept()
        except BaseException:
            self.sock.close()
            raise

    def _await_accept(self) -> None:
        deadline = time.monotonic() + IO_TIMEOUT
        while time.monotonic() < deadline:
            data = self.sock.recv(4096)
            if not data:
                raise ServerClosed("closed during the handshake")
            self.conn.receive_data(data)
            for event in self.conn.events():
                if isinstance(event, AcceptConnection):
                    return
                if isinstance(event, RejectConnection):
                    raise ServerClosed(f"upgrade refused: {event.status_code}")
        raise TimeoutError("no upgrade answer")

    def send(self, text: str) -> None:
        try:
            self.sock.sendall(self.conn.send(TextMessage(data=text)))
        except OSError as exc:
            raise ServerClosed(str(exc)) from exc

    def read_some(self, size: int) -> list[str]:
        """Read at most ``size`` bytes; the whole text messages they complete."""
        try:
            data = self.sock.recv(size)
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ServerClosed(str(exc)) from exc
        if not data:
            raise ServerClosed("end of stream")
        self.conn.receive_data(data)
        messages = []
        for event in self.conn.events():
            if isinstance(event, TextMessage):
                self.text += event.data
                if event.message_finished:
                    messages.append(self.text)
                    self.text = ""
            elif isinstance(event, CloseConnection):
                raise ServerClosed(f"close frame {event.code}")
            elif isinstance(event, Ping):
                with contextlib.suppress(OSError):
                    self.sock.sendall(self.conn.send(event.response()))
        return messages

    def closed_by_server(self, within: float) -> bool:
        """Drain what is buffered (ending the silence) and tell whether the server has
        closed its side within ``within`` seconds."""
        deadline = time.monotonic() + within
        self.sock.settimeout(0.2)
        while time.monotonic() < deadline:
            try:
                if not self.sock.recv(65536):
                    return True
            except (ConnectionResetError, BrokenPipeError):
                return True
            except TimeoutError:
                continue
            except OSError as exc:
                return exc.errno in (errno.ECONNRESET, errno.EPIPE)
        return False

    def close(self) -> None:
        self.sock.close()


def slow_reader(read_size: int, read_pause: float) -> Behaviour:
    """Join "/" over WebSocket, then read ``read_size`` bytes every ``read_pause``
    seconds, answering the pings it gets to; until the server cuts it or the run stops."""

    def behaviour(ctx: Context) -> None:
        ws = RawWebSocket(ctx.port)
        ws.send("40")
        ctx.tally.add("slow.connected")
        try:
            while not ctx.pause(read_pause):
                for message in ws.read_some(read_size):
                    if message == "2":
                        ws.send("3")
                        ctx.tally.add("slow.pongs")
        except ServerClosed:
            ctx.tally.add("slow.cut_by_server")
        except TimeoutError:
            ctx.tally.add("slow.read_timeout")
        finally:
            ws.close()

    return behaviour


def silent_websocket(
    kind: str,
    hold: tuple[float, float],
    check: bool = False,
    blind_pong: bool = False,
    flood: tuple[int, int] | None = None,
    flood_again: bool = False,
) -> Behaviour:
    """Join "/" over WebSocket and never read again, for a time drawn from ``hold``,
    then close.

    ``blind_pong`` sends a pong every ping interval without reading (the session stays
    alive, so only ``send_timeout`` or ``max_queued_bytes`` can cut it); ``flood`` asks
    the server for (size, count) bytes at once, ``flood_again`` again every ping interval
    (to fill the kernel's buffers sooner than the broadcasts would). With ``check`` (for
    holds longer than the server's limits) the connection is then drained to see
    whether the server closed it."""
    ask = "42" + json.dumps(["flood", *flood]) if flood is not None else None

    def behaviour(ctx: Context) -> None:
        ws = RawWebSocket(ctx.port)
        try:
            ws.send("40")
            if ask is not None:
                ws.send(ask)
            ctx.tally.add(f"{kind}.joined")
            seconds = ctx.rng.uniform(*hold)
            deadline = time.monotonic() + seconds
            while not ctx.stop.is_set() and time.monotonic() < deadline:
                step = min(ctx.ping_interval, max(0.0, deadline - time.monotonic()))
                if ctx.pause(step):
                    break
                try:
                    if blind_pong:
                        ws.send("3")
                    if ask is not None and flood_again:
                        ws.send(ask)
                except ServerClosed:
                    ctx.tally.add(f"{kind}.send_refused")
                    break
            if check and not ctx.stop.is_set():
                if ws.closed_by_server(within=1.0):
                    ctx.tally.add(f"{kind}.closed_by_server")
                else:
                    ctx.tally.add(f"{kind}.still_open_after_hold")
        finally:
            ws.close()

    return behaviour


# -- raw long-polling -----------------------------------------------------------------


def _polling_open(ctx: Context, join: str = "40") -> tuple[http.client.HTTPConnection, str]:
    """A polling handshake and a join (``join``: the CONNECT packet) on one keep-alive
    connection: (connection, the session's target)."""
    conn = http.client.HTTPConnection(HOST, ctx.port, timeout=IO_TIMEOUT)
    try:
        conn.request("GET", f"{EIO_PATH}?EIO=4&transport=polling")
        body = conn.getresponse().read().decode()
        if not body.startswith("0"):
            raise ServerClosed(f"unexpected handshake {body[:80]!r}")
        target = f"{EIO_PATH}?EIO=4&transport=polling&sid={json.loads(body[1:])['sid']}"
        conn.request("POST", target, body=join.encode(), headers={"Content-Type": "text/plain"})
        conn.getresponse().read()
        return conn, target
    except BaseException:
        conn.close()
        raise


def polling_silent(ctx: Context) -> None:
    """Handshake, join "/", never poll again (the session must expire)."""
    conn, _ = _polling_open(ctx)
    conn.close()
    ctx.tally.add("polling_silent.joined")


def polling_abandoned_get(ctx: Context) -> None:
    """Handshake, join, take the CONNECT reply, then close the connection while the next
    GET waits (the session must end). It joins the quiet namespace, which gets no ticks,
    so that the GET does wait (for the next ping)."""
    conn, target = _polling_open(ctx, join=f"40{QUIET_NAMESPACE},")
    try:
        conn.request("GET", target)
        conn.getresponse().read()  # the CONNECT reply is already queued
        conn.request("GET", target)  # this one waits for the next packet
        ctx.pause(ctx.rng.uniform(0.1, 0.8 * ctx.ping_interval))
        ctx.tally.add("polling_abandoned_get.abandoned")
    finally:
        conn.close()
