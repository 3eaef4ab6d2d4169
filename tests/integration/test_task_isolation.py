"""Nothing one request or handler leaves behind reaches another one.

A Flask view or a Socket.IO handler that starts a ``gevent.Timeout`` and never cancels
it, or that sets greenlet-local data (a ``threading.local`` under monkey patching), must
not interrupt or inform the next user's request, which runs on a greenlet of its own.
"""

from __future__ import annotations

import http.client
import threading
from typing import Any

import gevent
import pytest
from flask import Flask

import sockio_wsgi
from tests.helpers.server import serving, serving_sio
from tests.helpers.sio_interop import Recorder

STALE = 0.05  # the careless timeout fires this soon


def get(port: int, path: str) -> tuple[int, str]:
    """One request on a connection of its own (another user, another greenlet)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def careless_app() -> Flask:
    app = Flask(__name__)
    local = threading.local()  # gevent's greenlet-local under the test run's patching

    @app.get("/careless")
    def careless() -> str:
        gevent.Timeout(STALE).start()  # never cancelled
        local.user = "ada"
        return "a"

    @app.get("/later")
    def later() -> str:
        try:
            gevent.sleep(4 * STALE)
        except gevent.Timeout:
            return "later got the timeout"
        return f"later finished, user={getattr(local, 'user', None)}"

    return app


@pytest.mark.timeout(20)
def test_a_flask_view_never_sees_what_an_earlier_view_left_behind() -> None:
    sio = sockio_wsgi.Server()
    with serving(sockio_wsgi.WSGIApp(sio, careless_app())) as running:
        for _ in range(3):
            assert get(running.port, "/careless") == (200, "a")
            assert get(running.port, "/later") == (200, "later finished, user=None")


@pytest.mark.timeout(20)
def test_a_polling_handler_never_sees_what_an_earlier_handler_left_behind() -> None:
    record = Recorder()
    sio = sockio_wsgi.Server()
    local = threading.local()

    @sio.on("careless")
    def careless(socket: sockio_wsgi.Socket) -> str:
        gevent.Timeout(STALE).start()
        local.user = socket.id
        return "a"

    @sio.on("later")
    def later(socket: sockio_wsgi.Socket) -> Any:
        try:
            gevent.sleep(4 * STALE)
        except gevent.Timeout:
            return "later got the timeout"
        return getattr(local, "user", None)

    @sio.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", reason)

    with serving_sio(sio) as running:
        first, second = sockio_wsgi.Client(), sockio_wsgi.Client()
        try:
            first.connect(running.url, transports=["polling"])
            second.connect(running.url, transports=["polling"])
            for _ in range(3):
                assert first.emit_with_ack("careless", timeout=5) == "a"
                assert second.emit_with_ack("later", timeout=5) is None
            assert record.values("disconnect") == []
        finally:
            first.disconnect()
            second.disconnect()
