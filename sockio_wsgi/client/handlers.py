"""Handler registration of the client: per-namespace event handlers and catch-alls."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[..., Any]

# Events about the whole connection; they are registered and fired on "/".
MANAGER_EVENTS = frozenset(
    {"reconnect_attempt", "reconnect", "reconnect_error", "reconnect_failed"}
)


class Handlers:
    """The ``on`` / ``on_any`` / ``on_any_outgoing`` half of :class:`Client`."""

    handlers: dict[str, dict[str, Handler]]
    any_handlers: dict[str, list[Handler]]
    any_outgoing_handlers: dict[str, list[Handler]]

    def __init__(self) -> None:
        self.handlers = {}
        self.any_handlers = {}
        self.any_outgoing_handlers = {}

    def on(self, event: str, handler: Handler | None = None, namespace: str = "/") -> Any:
        """Register ``handler`` for ``event`` (decorator when ``handler`` is omitted).

        Server events call ``handler(*args)``; its return value answers an ack request.
        Also: ``connect()``, ``disconnect(reason)``, ``connect_error(error_dict)`` and, on
        ``"/"``, ``reconnect_attempt(n)``, ``reconnect(n)``, ``reconnect_error(exc)``,
        ``reconnect_failed()``.
        """

        def register(func: Handler) -> Handler:
            self.handlers.setdefault(namespace, {})[event] = func
            return func

        return register if handler is None else register(handler)

    def event(self, handler: Handler) -> Handler:
        """Register ``handler`` for the event named after the function."""
        return self.on(handler.__name__, handler)  # type: ignore[no-any-return]

    def on_any(self, handler: Handler | None = None, namespace: str = "/") -> Any:
        """``handler(event, *args)`` for every incoming event of ``namespace``."""

        def register(func: Handler) -> Handler:
            self.any_handlers.setdefault(namespace, []).append(func)
            return func

        return register if handler is None else register(handler)

    def on_any_outgoing(self, handler: Handler | None = None, namespace: str = "/") -> Any:
        """``handler(event, *args)`` for every event this client sends on ``namespace``."""

        def register(func: Handler) -> Handler:
            self.any_outgoing_handlers.setdefault(namespace, []).append(func)
            return func

        return register if handler is None else register(handler)

    def handled_namespaces(self) -> list[str]:
        """Namespaces with handlers for server events (the default of ``connect``)."""
        names = [n for n, h in self.handlers.items() if set(h) - MANAGER_EVENTS]
        return names + [n for n in self.any_handlers if n not in names]
