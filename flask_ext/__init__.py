"""Flask integration for sockio-wsgi, with Flask-SocketIO's API.

Moving from Flask-SocketIO is a change of imports::

    from flask_ext import SocketIO, emit, join_room

Handlers run in a Flask request context built from the connection's handshake
(``request.sid``, ``session``, ``current_user``); ``socketio.test_client(app)`` speaks the
real protocol through the app.
"""

from flask_ext.extension import SocketIO
from flask_ext.helpers import (
    call,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)
from flask_ext.namespace import Namespace
from flask_ext.testing import SocketIOTestClient
from sockio_wsgi import ConnectionRefusedError

__all__ = [
    "ConnectionRefusedError",
    "Namespace",
    "SocketIO",
    "SocketIOTestClient",
    "call",
    "close_room",
    "disconnect",
    "emit",
    "join_room",
    "leave_room",
    "rooms",
    "send",
]
