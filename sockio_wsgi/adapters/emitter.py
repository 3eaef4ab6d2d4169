"""Emit into a cluster from any process that is not a server (cron job, worker, script).

Write-only: it publishes the same messages as ``@socket.io/redis-emitter`` (uid
``"emitter"``), so every server of the cluster, Python or Node, delivers them to its own
clients. It needs no gevent and no listener; acknowledgements are not supported.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sockio_wsgi.adapters import cluster_wire as wire
from sockio_wsgi.adapters.base import BroadcastOptions
from sockio_wsgi.adapters.bus import DEFAULT_URL, _redis_errors, redis_client
from sockio_wsgi.adapters.cluster_wire import EMITTER_UID, RequestType
from sockio_wsgi.exceptions import BusUnavailable
from sockio_wsgi.protocol.sio import RESERVED_EVENTS, event_packet


def _rooms(rooms: str | Iterable[str]) -> frozenset[str]:
    return frozenset([rooms]) if isinstance(rooms, str) else frozenset(rooms)


class RedisEmitter:
    """``RedisEmitter(url).of("/chat").to("room").emit("news", data)``; each step returns a
    new emitter sharing the Redis client."""

    def __init__(
        self,
        url_or_client: Any = DEFAULT_URL,
        key_prefix: str = "socket.io",
        namespace: str = "/",
        *,
        _opts: BroadcastOptions | None = None,
        _client: tuple[Any, bool] | None = None,
    ) -> None:
        self.key_prefix = key_prefix
        self.namespace = namespace if namespace.startswith("/") else "/" + namespace
        self._client, self._owned = _client or redis_client(url_or_client)
        self._opts = _opts or BroadcastOptions()
        self._channels = wire.Channels.of(key_prefix, self.namespace)

    def _with(self, namespace: str | None = None, **changes: Any) -> RedisEmitter:
        opts = BroadcastOptions(
            **{
                "rooms": self._opts.rooms,
                "except_rooms": self._opts.except_rooms,
                "volatile": self._opts.volatile,
                "compress": self._opts.compress,
                **changes,
            }
        )
        return RedisEmitter(
            key_prefix=self.key_prefix,
            namespace=namespace or self.namespace,
            _opts=opts,
            _client=(self._client, False),
        )

    def of(self, namespace: str) -> RedisEmitter:
        """The same emitter for another namespace (no rooms or flags carried over)."""
        return RedisEmitter(
            key_prefix=self.key_prefix, namespace=namespace, _client=(self._client, False)
        )

    def to(self, rooms: str | Iterable[str]) -> RedisEmitter:
        return self._with(rooms=self._opts.rooms | _rooms(rooms))

    in_ = to

    def except_(self, rooms: str | Iterable[str]) -> RedisEmitter:
        return self._with(except_rooms=self._opts.except_rooms | _rooms(rooms))

    @property
    def volatile(self) -> RedisEmitter:
        return self._with(volatile=True)

    def compress(self, compress: bool) -> RedisEmitter:
        return self._with(compress=compress)

    def _publish(self, channel: str, message: Any) -> None:
        try:
            self._client.publish(channel, wire.encode(message))
        except _redis_errors() as exc:
            raise BusUnavailable(f"redis publish to {channel} failed: {exc}") from exc

    def _request(self, kind: RequestType, **fields: Any) -> None:
        opts = wire.opts_to_wire(self._opts, with_flags=False)
        self._publish(self._channels.request, {"type": int(kind), "opts": opts, **fields})

    def emit(self, event: str, *args: Any) -> None:
        """Send ``event`` to the matching sockets of every server."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        packet = wire.packet_to_wire(event_packet(self.namespace, event, list(args)))
        message = [EMITTER_UID, packet, wire.opts_to_wire(self._opts)]
        self._publish(self._channels.broadcast_channel(self._opts.rooms), message)

    def send(self, *args: Any) -> None:
        self.emit("message", *args)

    def sockets_join(self, rooms: str | Iterable[str]) -> None:
        self._request(RequestType.REMOTE_JOIN, rooms=sorted(_rooms(rooms)))

    def sockets_leave(self, rooms: str | Iterable[str]) -> None:
        self._request(RequestType.REMOTE_LEAVE, rooms=sorted(_rooms(rooms)))

    def disconnect_sockets(self, close: bool = False) -> None:
        self._request(RequestType.REMOTE_DISCONNECT, close=close)

    def server_side_emit(self, event: str, *args: Any) -> None:
        """``event`` for the server-side handlers of every server (no acknowledgement)."""
        if event in RESERVED_EVENTS:
            raise ValueError(f"{event!r} is a reserved event name")
        message = {
            "uid": EMITTER_UID,
            "type": int(RequestType.SERVER_SIDE_EMIT),
            "data": [event, *args],
        }
        self._publish(self._channels.request, message)

    def close(self) -> None:
        """Close the Redis client if this emitter created it from a URL."""
        if self._owned:
            self._client.close()
