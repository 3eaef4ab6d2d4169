"""Helpers for the Python client tests (tests/client): a server with handlers worth
talking to, a server on a fixed port (for restarts), and a check that no client thread
outlives its client."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import sockio_wsgi
from tests.helpers.server import Running
from tests.helpers.sio_interop import Recorder

THREAD_PREFIX = "sockio_wsgi.client"


def make_sio(record: Recorder, **kwargs: Any) -> sockio_wsgi.Server:
    """``echo`` acks its args, ``kick`` disconnects (``close``: the whole connection),
    ``drop`` closes the Engine.IO session only (a lost connection, to the client),
    ``ask`` asks the client ``question`` and records the answer, ``log`` records its
    args and acks ``"ok"``; "/chat" has ``echo`` too. Lifecycle goes to ``record``."""
    sio = sockio_wsgi.Server(**kwargs)

    @sio.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", {"sid": socket.id, "auth": auth, "handshake": socket.handshake})

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.id, reason))

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return args

    @sio.on("log")
    def log(socket: sockio_wsgi.Socket, *args: Any) -> str:
        record.add("log", list(args))
        return "ok"

    @sio.on("kick")
    def kick(socket: sockio_wsgi.Socket, close: bool = False) -> None:
        socket.disconnect(close=close)

    @sio.on("drop")
    def drop(socket: sockio_wsgi.Socket) -> None:
        sio.eio.disconnect(socket.client.sid)  # Engine.IO close, no Socket.IO DISCONNECT

    @sio.on("ask")
    def ask(socket: sockio_wsgi.Socket, *args: Any) -> None:
        record.add("answer", socket.emit_with_ack("question", *args, timeout=5))

    @sio.on("connect", namespace="/chat")
    def chat_connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("chat_connect", socket.id)

    @sio.on("echo", namespace="/chat")
    def chat_echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
        return ("chat", *args)

    return sio


@contextmanager
def serving_on(sio: sockio_wsgi.Server, port: int = 0) -> Iterator[Running]:
    """Like ``serving_sio`` but on a chosen port, so a test can stop and restart it."""
    server = sockio_wsgi.make_server(sockio_wsgi.WSGIApp(sio), "127.0.0.1", port)
    server.start()
    try:
        yield Running(server, server.server_port)
    finally:
        sio.close()
        server.stop(timeout=2)


def client_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def assert_no_client_threads(timeout: float = 5.0) -> None:
    """Every client thread ends soon after disconnect (polled with a deadline)."""
    deadline = time.monotonic() + timeout
    while client_threads():
        if time.monotonic() > deadline:
            raise AssertionError(f"client threads left running: {client_threads()}")
        threading.Event().wait(0.02)
