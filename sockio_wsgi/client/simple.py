"""``SimpleClient``: a blocking, one-namespace client for scripts and tests.

Incoming events are queued and read with :meth:`SimpleClient.receive`; there are no
handlers to register. Reconnection and buffering are those of :class:`Client`.
"""

from __future__ import annotations

import queue
from collections.abc import Iterable, Mapping
from typing import Any

from sockio_wsgi.client.client import Auth, Client
from sockio_wsgi.exceptions import DisconnectedError, TimeoutError

_DONE = object()


class SimpleClient:
    """Connect, ``emit``/``call``, ``receive``; ``client_options`` go to :class:`Client`."""

    def __init__(self, **client_options: Any) -> None:
        self.client_options = client_options
        self.client: Client | None = None
        self.namespace = "/"
        self._events: queue.Queue[Any] = queue.Queue()

    def connect(
        self,
        url: str,
        namespace: str = "/",
        auth: Auth = None,
        headers: Mapping[str, str] | None = None,
        transports: str | Iterable[str] | None = None,
        socketio_path: str = "socket.io",
        wait_timeout: float = 5.0,
    ) -> None:
        """Connect to ``namespace``; raises :class:`ConnectionError` when refused."""
        if self.client is not None and not self.client.wait(0):
            raise RuntimeError("already connected")
        self.namespace = namespace
        self._events = queue.Queue()
        events = self._events
        client = Client(**self.client_options)
        client.on_any(lambda event, *args: events.put([event, *args]), namespace=namespace)
        client._finish_hooks.append(lambda: events.put(_DONE))
        self.client = client
        client.connect(
            url,
            namespaces=[namespace],
            auth=auth,
            headers=headers,
            transports=transports,
            socketio_path=socketio_path,
            wait_timeout=wait_timeout,
        )

    def _client(self) -> Client:
        if self.client is None:
            raise DisconnectedError("not connected")
        return self.client

    @property
    def sid(self) -> str | None:
        return self.client.get_sid(self.namespace) if self.client is not None else None

    @property
    def transport(self) -> str | None:
        return self.client.transport if self.client is not None else None

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    def emit(self, event: str, *args: Any) -> None:
        """Send an event (buffered while reconnecting)."""
        self._client().emit(event, *args, namespace=self.namespace)

    def call(self, event: str, *args: Any, timeout: float | None = 60.0) -> Any:
        """Emit and wait for the ack; raises :class:`~sockio_wsgi.TimeoutError`."""
        return self._client().emit_with_ack(event, *args, namespace=self.namespace, timeout=timeout)

    def receive(self, timeout: float | None = None) -> list[Any]:
        """The next event as ``[event, *args]``; raises :class:`~sockio_wsgi.TimeoutError`
        when none arrives in time and :class:`DisconnectedError` once disconnected."""
        try:
            item = self._events.get(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no event within {timeout}s") from None
        if item is _DONE:
            self._events.put(_DONE)
            raise DisconnectedError("the client is disconnected")
        result: list[Any] = item
        return result

    def disconnect(self) -> None:
        if self.client is not None:
            self.client.disconnect()

    def __enter__(self) -> SimpleClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()
