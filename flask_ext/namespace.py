"""Class-based namespaces: ``on_<event>`` methods, registered with ``socketio.on_namespace``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask_ext import helpers

if TYPE_CHECKING:
    from flask_ext.extension import SocketIO


class Namespace:
    """Subclass and define ``on_connect(self[, auth])``, ``on_disconnect(self[, reason])``
    and ``on_<event>(self, *args)``; each runs like a decorated handler. The helper methods
    mirror Flask-SocketIO's (``emit`` here broadcasts unless ``room``/``to`` is given)."""

    def __init__(self, namespace: str | None = None) -> None:
        self.namespace = namespace or "/"
        self.socketio: SocketIO | None = None

    def _set_socketio(self, socketio: SocketIO) -> None:
        self.socketio = socketio

    def _ext(self) -> SocketIO:
        if self.socketio is None:
            raise RuntimeError("register the namespace with socketio.on_namespace() first")
        return self.socketio

    def trigger_event(self, event: str, *args: Any) -> Any:
        """Call ``on_<event>`` directly (handy in tests of the class itself)."""
        handler = getattr(self, "on_" + event, None)
        return handler(*args) if handler is not None else None

    def emit(
        self,
        event: str,
        data: Any = None,
        room: str | None = None,
        include_self: bool = True,
        namespace: str | None = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        self._ext().emit(
            event,
            data,
            room=room,
            include_self=include_self,
            namespace=namespace or self.namespace,
            callback=callback,
            **kwargs,
        )

    def send(
        self,
        data: Any,
        room: str | None = None,
        include_self: bool = True,
        namespace: str | None = None,
        callback: Any = None,
        **kwargs: Any,
    ) -> None:
        self._ext().send(
            data,
            room=room,
            include_self=include_self,
            namespace=namespace or self.namespace,
            callback=callback,
            **kwargs,
        )

    def call(self, event: str, *args: Any, to: str | None = None, **kwargs: Any) -> Any:
        kwargs.setdefault("namespace", self.namespace)
        return helpers.call(event, *args, to=to, **kwargs)

    def close_room(self, room: str, namespace: str | None = None) -> None:
        self._ext().close_room(room, namespace=namespace or self.namespace)

    def enter_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        helpers.join_room(room, sid=sid, namespace=namespace or self.namespace)

    def leave_room(self, sid: str, room: str, namespace: str | None = None) -> None:
        helpers.leave_room(room, sid=sid, namespace=namespace or self.namespace)

    def rooms(self, sid: str, namespace: str | None = None) -> list[str]:
        return helpers.rooms(sid=sid, namespace=namespace or self.namespace)

    def disconnect(self, sid: str, namespace: str | None = None) -> None:
        helpers.disconnect(sid=sid, namespace=namespace or self.namespace)
