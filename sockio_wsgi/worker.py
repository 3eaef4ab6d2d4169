"""``gunicorn -k sockio_wsgi.worker.SocketIOWorker app:app``: gunicorn's gevent worker with
the WebSocket handler of :mod:`sockio_wsgi.serve`.

Each worker is one gevent process serving HTTP long-polling and WebSocket; several workers
(or machines) act as one server through :class:`sockio_wsgi.RedisAdapter`. On a graceful
stop (SIGTERM, or a reload) every Socket.IO connection of the worker is closed at once with
the reason "server shutting down", instead of being held until gunicorn's graceful timeout.
"""

from __future__ import annotations

import logging
from typing import Any

from gunicorn.workers.ggevent import GeventPyWSGIWorker, PyWSGIHandler

from sockio_wsgi import runtime
from sockio_wsgi.engine.server import live_servers
from sockio_wsgi.serve import WebSocketHandler, WebSocketServer

log = logging.getLogger("sockio_wsgi.worker")


class SocketIOHandler(WebSocketHandler, PyWSGIHandler):  # type: ignore[misc]
    """Our upgrades, header reader and socket options, with gunicorn's access log and
    environ keys."""


def close_all_servers() -> None:
    """Disconnect every client of every Engine.IO server in this process."""
    for server in live_servers():
        try:
            server.close()
        except Exception:
            log.exception("closing %r failed", server)


class SocketIOWorker(GeventPyWSGIWorker):  # type: ignore[misc]
    """The gevent worker for sockio-wsgi apps (``-k sockio_wsgi.worker.SocketIOWorker``)."""

    server_class = WebSocketServer
    wsgi_handler = SocketIOHandler

    def handle_exit(self, sig: int, frame: Any) -> None:
        super().handle_exit(sig, frame)
        self._shut_down_sessions()

    def handle_quit(self, sig: int, frame: Any) -> None:
        self._shut_down_sessions()
        super().handle_quit(sig, frame)

    def _shut_down_sessions(self) -> None:
        # Called in a signal handler: the closing itself runs in a greenlet.
        log.info("worker %s stopping: closing its Socket.IO sessions", self.pid)
        runtime.spawn(close_all_servers)
