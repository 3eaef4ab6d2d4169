"""A real gevent server on an ephemeral port, for integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import sockio_wsgi


@dataclass
class Running:
    """A started server: ``url`` is ``http://127.0.0.1:PORT``."""

    server: Any
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def address(self) -> tuple[str, int]:
        return ("127.0.0.1", self.port)


@contextmanager
def serving(app: Callable[..., Any], **kwargs: Any) -> Iterator[Running]:
    """Serve ``app`` with ``sockio_wsgi.make_server`` on port 0 until the block ends."""
    server = sockio_wsgi.make_server(app, "127.0.0.1", 0, **kwargs)
    server.start()
    try:
        yield Running(server, server.server_port)
    finally:
        server.stop(timeout=2)


@contextmanager
def serving_sio(sio: sockio_wsgi.Server, other_app: Any = None) -> Iterator[Running]:
    """Serve a Socket.IO server; every session is closed when the block ends."""
    with serving(sockio_wsgi.WSGIApp(sio, other_app)) as running:
        try:
            yield running
        finally:
            sio.close()
