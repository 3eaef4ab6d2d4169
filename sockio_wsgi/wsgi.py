"""``WSGIApp``: mounts a Socket.IO (or raw Engine.IO) server beside another WSGI app."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sockio_wsgi.engine.http import StartResponse, text_response
from sockio_wsgi.engine.server import EngineServer


class WSGIApp:
    """Route requests under the server's path (default ``/socket.io/``) to the server
    and everything else to ``other_wsgi_app`` (or 404)."""

    def __init__(self, server: Any, other_wsgi_app: Callable[..., Any] | None = None) -> None:
        engine = server if isinstance(server, EngineServer) else server.eio
        self.server = server
        self.engine: EngineServer = engine
        self.other_wsgi_app = other_wsgi_app
        self._path = engine.path.rstrip("/")

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self._path or path.startswith(self._path + "/"):
            return self.engine(environ, start_response)
        if self.other_wsgi_app is not None:
            return self.other_wsgi_app(environ, start_response)  # type: ignore[no-any-return]
        return text_response(404, "Not Found").send(start_response)
