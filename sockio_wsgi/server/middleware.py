"""Running connection middleware, connect handlers and per-packet middleware.

socket.io's middleware takes a ``next`` callback; in Python a middleware simply returns
to go on and raises to stop. A :class:`ConnectionRefusedError` is a deliberate refusal
whose message and data reach the client; any other exception is a bug: it is logged with
its traceback and the client only learns that it was refused.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sockio_wsgi.exceptions import ConnectionRefusedError

if TYPE_CHECKING:
    from sockio_wsgi.server.socket import Socket

log = logging.getLogger("sockio_wsgi.server")

# sio.use(fn) / nsp.use(fn): fn(socket, auth) before the socket joins the namespace
Middleware = Callable[["Socket", Any], Any]

REJECTED = "Connection rejected by server"


def run_middlewares(
    middlewares: Sequence[Middleware], socket: Socket, auth: Any, nsp: str
) -> ConnectionRefusedError | None:
    """Run each middleware in order; the first refusal stops the chain."""
    for middleware in list(middlewares):
        try:
            middleware(socket, auth)
        except ConnectionRefusedError as exc:
            return exc
        except Exception:
            log.exception(
                "middleware %s of %s failed for socket %s", _name(middleware), nsp, socket.id
            )
            return ConnectionRefusedError(REJECTED)
    return None


def run_connect_handler(
    handler: Callable[..., Any] | None, socket: Socket, auth: Any, nsp: str
) -> ConnectionRefusedError | None:
    """The ``connect`` handler refuses by raising or by returning ``False``."""
    if handler is None:
        return None
    try:
        if handler(socket, auth) is False:
            return ConnectionRefusedError(REJECTED)
    except ConnectionRefusedError as exc:
        return exc
    except Exception:
        log.exception("connect handler of %s failed for socket %s", nsp, socket.id)
        return ConnectionRefusedError(REJECTED)
    return None


def run_packet_middlewares(
    middlewares: Sequence[Callable[..., Any]], socket: Socket, packet: list[Any]
) -> Exception | None:
    """``socket.use`` middleware: the exception that dropped the event, or ``None``."""
    for middleware in list(middlewares):
        try:
            middleware(socket, packet)
        except Exception as exc:
            return exc
    return None


def _name(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", None) or repr(func)
