"""sockio-wsgi: Socket.IO v5 / Engine.IO v4 for gevent and WSGI.

``Server`` speaks Socket.IO, ``EngineServer`` the raw Engine.IO layer; mount either with
``WSGIApp`` and serve with ``serve()`` or ``make_server()``.
"""

from sockio_wsgi.adapters.emitter import RedisEmitter
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.adapters.redis import RedisAdapter
from sockio_wsgi.client.client import Client
from sockio_wsgi.client.simple import SimpleClient
from sockio_wsgi.engine.server import EngineServer
from sockio_wsgi.exceptions import (
    BusUnavailable,
    ConnectionRefusedError,
    DisconnectedError,
    ProtocolError,
    SocketIOError,
    TimeoutError,
)
from sockio_wsgi.serve import WebSocketHandler, make_server, serve
from sockio_wsgi.server.broadcast import BroadcastOperator
from sockio_wsgi.server.dynamic import ParentNamespace
from sockio_wsgi.server.namespace import Namespace
from sockio_wsgi.server.remote import RemoteSocket
from sockio_wsgi.server.server import Server
from sockio_wsgi.server.socket import Socket
from sockio_wsgi.wsgi import WSGIApp

__version__ = "0.1.0"

__all__ = [
    "BroadcastOperator",
    "BusUnavailable",
    "Client",
    "ConnectionRefusedError",
    "DisconnectedError",
    "EngineServer",
    "InMemoryAdapter",
    "Namespace",
    "ParentNamespace",
    "ProtocolError",
    "RedisAdapter",
    "RedisEmitter",
    "RemoteSocket",
    "Server",
    "SimpleClient",
    "Socket",
    "SocketIOError",
    "TimeoutError",
    "WSGIApp",
    "WebSocketHandler",
    "__version__",
    "make_server",
    "serve",
]
