"""Exceptions users of sockio_wsgi catch or raise."""

from __future__ import annotations

import builtins
from typing import Any

from sockio_wsgi.protocol.errors import PayloadTooLarge, ProtocolError


class SocketIOError(Exception):
    """Base class of the errors this package raises at its API."""


class ConnectionRefusedError(SocketIOError, builtins.ConnectionRefusedError):  # noqa: A001
    """Raise in a ``connect`` handler or middleware to refuse the connection.

    The client receives ``connect_error`` with ``message`` and, when given, ``data``. It is
    also the builtin of the same name, so either spelling catches it.
    """

    def __init__(self, message: Any = "Connection refused", data: Any = None) -> None:
        super().__init__(message)
        if isinstance(message, dict) and data is None:
            data = message
            message = "Connection refused"
        self.message = str(message)
        self.data = data


class TimeoutError(SocketIOError, builtins.TimeoutError):  # noqa: A001
    """An acknowledgement did not arrive in time; ``replies`` holds those that did.

    Also the builtin ``TimeoutError``, so ``except TimeoutError`` catches it."""

    def __init__(self, message: str = "operation has timed out", replies: Any = None) -> None:
        super().__init__(message)
        self.replies = replies if replies is not None else []


class DisconnectedError(SocketIOError):
    """The socket was disconnected before the operation could complete."""


class BusUnavailable(SocketIOError):
    """The cluster bus (Redis) is down: nothing was published to the other servers.

    Local delivery has already happened when a broadcast raises this."""


__all__ = [
    "BusUnavailable",
    "ConnectionRefusedError",
    "DisconnectedError",
    "PayloadTooLarge",
    "ProtocolError",
    "SocketIOError",
    "TimeoutError",
]
