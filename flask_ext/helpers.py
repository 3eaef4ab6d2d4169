"""Flask-SocketIO's context helpers: ``emit``, ``send``, ``call``, rooms and ``disconnect``.

Inside a handler they act for the current socket (``emit`` answers the sender unless told
otherwise); outside handlers, in an app context, ``emit``/``send`` broadcast like
``socketio.emit``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sockio_wsgi
from flask_ext.context import current_flask_app, current_handler
from sockio_wsgi.protocol.sio import SioPacket, SioType

if TYPE_CHECKING:
    from flask_ext.state import AppState

log = logging.getLogger("flask_ext")

Rooms = str | Iterable[str]


def _state() -> AppState:
    handler = current_handler()
    if handler is not None:
        return handler.state
    app = current_flask_app()
    state = app.extensions.get("sockio_wsgi") if app is not None else None
    if state is None:
        raise RuntimeError(
            "flask_ext helpers work inside Socket.IO handlers or an app context of an app "
            "initialised with SocketIO; elsewhere use socketio.emit(...)"
        )
    return state  # type: ignore[no-any-return]


def _sender(state: AppState) -> sockio_wsgi.Socket | None:
    handler = current_handler()
    return handler.socket if handler is not None and handler.state is state else None


def _ns(namespace: str | None, sender: sockio_wsgi.Socket | None) -> str:
    if namespace is None:
        return sender.nsp if sender is not None else "/"
    return namespace if namespace.startswith("/") else "/" + namespace


def _as_set(sids: Rooms | None) -> set[str]:
    if sids is None:
        return set()
    return {sids} if isinstance(sids, str) else set(sids)


def event_args(args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Flask-SocketIO's rule for the data of an emit: one tuple is several arguments and a
    lone ``None`` is none; anything else goes as given."""
    if len(args) == 1:
        data = args[0]
        if type(data) is tuple:
            return data
        if data is None:
            return ()
    return args


def check_encodable(parser: Any, namespace: str, event: str, args: tuple[Any, ...]) -> None:
    """Raise ``TypeError`` now for data the wire cannot carry, as Flask-SocketIO does, when
    no local recipient made the server encode it (an empty room, an unknown namespace)."""
    try:
        parser.encode(SioPacket(SioType.EVENT, namespace, [event, *args]))
    except ValueError as exc:  # e.g. a JSON module that refuses NaN
        raise TypeError(str(exc)) from exc


def emit_from(
    state: AppState,
    event: str,
    args: tuple[Any, ...],
    *,
    default_to: str | None,
    namespace: str | None = None,
    to: Rooms | None = None,
    room: Rooms | None = None,
    include_self: bool = True,
    skip_sid: Rooms | None = None,
    broadcast: bool = False,
    callback: Callable[..., Any] | None = None,
    ignore_queue: bool = False,
) -> None:
    """The one emit behind ``emit()``, ``socketio.emit()`` and ``Namespace.emit()``."""
    args = event_args(args)
    sender = _sender(state)
    ns = _ns(namespace, sender)
    target = to if to is not None else room
    if target is None and not broadcast:
        target = default_to
    skip = _as_set(skip_sid)
    if not include_self and sender is not None:
        skip.add(sender.id)
    nsp = state.server.namespaces.get(ns)
    if nsp is None:
        check_encodable(state.server.parser, ns, event, args)
        log.debug("emit of %r to unknown namespace %s dropped", event, ns)
        return
    operator = nsp.except_(skip)
    if target is not None:
        operator = operator.to(target)
    if ignore_queue:
        operator = operator.local
    if callback is None:
        if not operator.emit(event, *args):
            check_encodable(state.server.parser, ns, event, args)
        return

    # an acknowledgement is per client: the callback runs once for each that acks, in the
    # emitting handler's context as in Flask-SocketIO
    def on_ack(*reply: Any) -> Any:
        return state.run_callback(sender, callback, reply)

    if not operator.emit_to_each(event, *args, callback=on_ack):
        check_encodable(state.server.parser, ns, event, args)


def call_on(
    state: AppState,
    event: str,
    args: tuple[Any, ...],
    *,
    to: str | None = None,
    namespace: str | None = None,
    timeout: float | None = 60,
) -> Any:
    sender = _sender(state)
    ns = _ns(namespace, sender)
    sid = to if to is not None else (sender.id if sender is not None else None)
    if sid is None:
        raise ValueError("call() outside a handler needs to=<sid>")
    socket = state.server.get_socket(sid, ns)
    if socket is None:
        raise sockio_wsgi.DisconnectedError(f"no socket {sid} on {ns}")
    return socket.emit_with_ack(event, *event_args(args), timeout=timeout)


def _socket(sid: str | None, namespace: str | None) -> sockio_wsgi.Socket | None:
    state = _state()
    sender = _sender(state)
    ns = _ns(namespace, sender)
    if sid is None:
        if sender is None:
            raise RuntimeError("without sid= this helper works inside a Socket.IO handler")
        sid = sender.id
    return state.server.get_socket(sid, ns)


# -- the helpers -----------------------------------------------------------------------


def emit(event: str, *args: Any, **kwargs: Any) -> None:
    """Emit from a handler: to the sender by default; ``broadcast=True`` for everyone in
    the namespace; ``to``/``room`` for rooms; ``include_self``, ``skip_sid``,
    ``namespace``, ``callback`` as in Flask-SocketIO."""
    state = _state()
    sender = _sender(state)
    default_to = sender.id if sender is not None else None
    emit_from(state, event, args, default_to=default_to, **kwargs)


def send(message: Any, json: bool = False, **kwargs: Any) -> None:
    """Emit ``message`` (or ``json`` with ``json=True``) with :func:`emit`'s arguments."""
    emit("json" if json else "message", message, **kwargs)


def call(
    event: str,
    *args: Any,
    to: str | None = None,
    namespace: str | None = None,
    timeout: float | None = 60,
) -> Any:
    """Emit to one client (the sender by default) and wait for its acknowledgement; returns
    its reply. Raises ``sockio_wsgi.TimeoutError`` or ``DisconnectedError``."""
    return call_on(_state(), event, args, to=to, namespace=namespace, timeout=timeout)


def join_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    socket = _socket(sid, namespace)
    if socket is not None:
        socket.join(room)


def leave_room(room: str, sid: str | None = None, namespace: str | None = None) -> None:
    socket = _socket(sid, namespace)
    if socket is not None:
        socket.leave(room)


def close_room(room: str, namespace: str | None = None) -> None:
    """Remove every socket of the namespace from ``room``."""
    state = _state()
    nsp = state.server.namespaces.get(_ns(namespace, _sender(state)))
    if nsp is not None:
        nsp.in_(room).sockets_leave(room)


def rooms(sid: str | None = None, namespace: str | None = None) -> list[str]:
    """The rooms of a socket (the sender by default), its own sid room included."""
    socket = _socket(sid, namespace)
    return sorted(socket.rooms) if socket is not None else []


def disconnect(sid: str | None = None, namespace: str | None = None, silent: bool = False) -> None:
    """Disconnect a socket (the sender by default) from its namespace."""
    socket = _socket(sid, namespace)
    if socket is not None:
        socket.disconnect()
