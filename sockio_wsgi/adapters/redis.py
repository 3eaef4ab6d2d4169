"""The Redis adapter: a cluster of servers sharing rooms over Redis pub/sub.

It speaks the wire format of the classic ``@socket.io/redis-adapter`` (see
:mod:`~sockio_wsgi.adapters.cluster_wire`), so Python and Node servers share one cluster
and ``@socket.io/redis-emitter`` reaches our clients. Every method does the local part
with the in-memory adapter and publishes the rest; messages come back through the
server's :class:`~sockio_wsgi.adapters.bus.RedisBus` (one connection, one listener).

While Redis is down, local delivery goes on and anything that needs the other servers
raises :class:`~sockio_wsgi.exceptions.BusUnavailable`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters import cluster_wire as wire
from sockio_wsgi.adapters.base import (
    AdapterHost,
    BroadcastOptions,
    ClientCountCallback,
    ReplyCallback,
    Room,
    ServerAckCallback,
    SocketRecord,
)
from sockio_wsgi.adapters.bus import DEFAULT_URL, RedisBus
from sockio_wsgi.adapters.cluster_wire import RequestType
from sockio_wsgi.adapters.local_bus import LocalBus
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.adapters.requests import handle_request
from sockio_wsgi.exceptions import BusUnavailable, TimeoutError
from sockio_wsgi.protocol.sio import SioPacket

log = logging.getLogger("sockio_wsgi.adapters.redis")

# (error or None, the responses received)
_Done = Callable[[Exception | None, list[dict[str, Any]]], None]


@dataclass
class _Pending:
    """A request waiting for ``expected`` responses from the other servers."""

    kind: RequestType
    expected: int
    done: _Done
    responses: list[dict[str, Any]] = field(default_factory=list)
    timer: Any = None


Bus = RedisBus | LocalBus


class RedisAdapter(InMemoryAdapter):
    """Rooms of one namespace across every server subscribed to the same key prefix."""

    def __init__(
        self,
        host: AdapterHost,
        bus: Bus,
        request_timeout: float = 5.0,
        raise_when_bus_down: bool = True,
    ) -> None:
        super().__init__(host)
        if self.recovery is not None:
            # offsets of this process's log mean nothing to the other servers
            log.warning(
                "namespace %s: connection state recovery is not supported by RedisAdapter "
                "yet; it stays off",
                host.name,
            )
            self.recovery = None
        self.bus = bus
        # a broadcast while Redis is down still reaches this server's clients; then it
        # raises BusUnavailable (the default) or only logs that the others missed it
        self.raise_when_bus_down = raise_when_bus_down
        self.uid = bus.uid
        self.request_timeout = request_timeout
        self.channels = wire.Channels.of(bus.key_prefix, host.name)
        self._requests: dict[str, _Pending] = {}
        self._acks: dict[str, tuple[ClientCountCallback, ReplyCallback, Any]] = {}
        self._subscribed = [
            self.channels.request,
            self.channels.response,
            self.channels.specific_response(self.uid),
        ]
        self._pattern = self.channels.broadcast_pattern()
        bus.register(self._subscribed, self._pattern, self._on_message)

    @classmethod
    def factory(
        cls,
        url_or_client: Any = DEFAULT_URL,
        key_prefix: str = "socket.io",
        request_timeout: float = 5.0,
        bus: Bus | None = None,
        raise_when_bus_down: bool = True,
    ) -> Callable[[AdapterHost], RedisAdapter]:
        """``Server(adapter=RedisAdapter.factory(url))``: the namespaces of that server share
        one bus (one subscriber connection, one listener greenlet). ``bus`` replaces Redis,
        e.g. by a :class:`~sockio_wsgi.adapters.local_bus.LocalBus` (servers in one
        process)."""
        if bus is None:
            bus = RedisBus(url_or_client, key_prefix)

        def make(host: AdapterHost) -> RedisAdapter:
            return cls(host, bus, request_timeout, raise_when_bus_down)

        make.bus = bus  # type: ignore[attr-defined]
        return make

    @property
    def healthy(self) -> bool:
        """Redis is reachable and this server receives the other servers' messages."""
        return self.bus.healthy

    def wait_health(self, healthy: bool, timeout: float) -> bool:
        return self.bus.wait_health(healthy, timeout)

    # -- publishing ------------------------------------------------------------------

    def _publish(self, channel: str, message: Any) -> None:
        self.bus.publish(channel, wire.encode(message))

    def _request(
        self, kind: RequestType, fields: dict[str, Any], request_id: str | None = None
    ) -> None:
        message = {"uid": self.uid, "type": int(kind), **fields}
        if request_id is not None:
            message["requestId"] = request_id
        self._publish(self.channels.request, message)

    def _respond(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        """Answer on the shared response channel (the Node adapter's default)."""
        try:
            self._publish(self.channels.response, {"requestId": request["requestId"], **response})
        except BusUnavailable as exc:
            log.warning(
                "namespace %s: answer to %s lost: %s", self.host.name, request.get("requestId"), exc
            )

    def _ask(self, kind: RequestType, fields: dict[str, Any], expected: int, done: _Done) -> None:
        """Publish a request and call ``done`` once ``expected`` servers answered (or at
        the request timeout, with a TimeoutError and what came)."""
        request_id = wire.new_request_id()
        pending = _Pending(kind, expected, done)
        self._requests[request_id] = pending
        pending.timer = runtime.spawn_later(self.request_timeout, self._expire, request_id)
        try:
            self._request(kind, fields, request_id)
        except BusUnavailable:
            self._requests.pop(request_id, None)
            runtime.kill(pending.timer)
            raise

    def _expire(self, request_id: str) -> None:
        pending = self._requests.pop(request_id, None)
        if pending is not None:
            error = TimeoutError(
                f"{pending.kind.name}: {len(pending.responses)} of {pending.expected} servers "
                f"answered within {self.request_timeout}s",
                replies=list(pending.responses),
            )
            pending.done(error, list(pending.responses))

    def _wait(
        self, kind: RequestType, fields: dict[str, Any], expected: int
    ) -> list[dict[str, Any]]:
        if self.bus.on_listener():
            raise RuntimeError(
                f"{kind.name} would wait on the bus listener for the answers "
                "only it can read; call it from another greenlet"
            )
        result: runtime.AsyncResult = runtime.AsyncResult()
        self._ask(kind, fields, expected, lambda err, got: result.set((err, got)))
        error, responses = result.get()
        if error is not None:
            raise error
        return responses  # type: ignore[no-any-return]

    # -- the adapter contract --------------------------------------------------------

    def broadcast(self, packet: SioPacket, opts: BroadcastOptions) -> int:
        count = super().broadcast(packet, opts)
        if not opts.local:
            message = [self.uid, wire.packet_to_wire(packet), wire.opts_to_wire(opts)]
            try:
                self._publish(self.channels.broadcast_channel(opts.rooms), message)
            except BusUnavailable as exc:
                if self.raise_when_bus_down:
                    raise
                log.warning(
                    "namespace %s: broadcast reached this server only: %s", self.host.name, exc
                )
        return count

    def broadcast_with_ack(
        self,
        packet: SioPacket,
        opts: BroadcastOptions,
        on_client_count: ClientCountCallback,
        on_reply: ReplyCallback,
    ) -> None:
        if not opts.local:
            request_id = wire.new_request_id()
            # no way to know when every remote client has answered: forget at the deadline
            timeout = opts.timeout if opts.timeout is not None else self.request_timeout
            timer = runtime.spawn_later(timeout, self._acks.pop, request_id, None)
            self._acks[request_id] = (on_client_count, on_reply, timer)
        super().broadcast_with_ack(packet, opts, on_client_count, on_reply)
        if opts.local:
            return
        fields = {"packet": wire.packet_to_wire(packet), "opts": wire.opts_to_wire(opts)}
        try:
            self._request(RequestType.BROADCAST, fields, request_id)
        except BusUnavailable:
            _, _, timer = self._acks.pop(request_id)
            runtime.kill(timer)
            raise

    def _require_bus(self, what: str) -> None:
        """Reads of the whole cluster fail rather than answer with this server alone."""
        if not self.bus.healthy:
            raise BusUnavailable(f"{what}: the redis bus is down")

    def fetch_sockets(self, opts: BroadcastOptions) -> list[SocketRecord]:
        found = super().fetch_sockets(opts)
        if opts.local:
            return found
        self._require_bus("fetch_sockets")
        servers = self.server_count()
        if servers <= 1:
            return found
        fields = {"opts": wire.opts_to_wire(opts, with_flags=False)}
        for response in self._wait(RequestType.REMOTE_FETCH, fields, servers - 1):
            for raw in response.get("sockets") or ():
                try:
                    found.append(wire.record_from_wire(raw, self.host.name))
                except wire.MalformedMessage as exc:
                    log.debug("fetched socket ignored: %s", exc)
        return found

    def all_rooms(self) -> set[Room]:
        """The rooms of every server (socket.io's ``allRooms``)."""
        rooms = set(self.rooms)
        self._require_bus("all_rooms")
        servers = self.server_count()
        if servers > 1:
            for response in self._wait(RequestType.ALL_ROOMS, {}, servers - 1):
                rooms.update(str(room) for room in response.get("rooms") or ())
        return rooms

    def add_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        super().add_sockets(opts, rooms)
        if not opts.local:
            fields = {"opts": wire.opts_to_wire(opts, with_flags=False), "rooms": sorted(rooms)}
            self._request(RequestType.REMOTE_JOIN, fields)

    def del_sockets(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        super().del_sockets(opts, rooms)
        if not opts.local:
            fields = {"opts": wire.opts_to_wire(opts, with_flags=False), "rooms": sorted(rooms)}
            self._request(RequestType.REMOTE_LEAVE, fields)

    def disconnect_sockets(self, opts: BroadcastOptions, close: bool) -> None:
        super().disconnect_sockets(opts, close)
        if not opts.local:
            fields = {"opts": wire.opts_to_wire(opts, with_flags=False), "close": close}
            self._request(RequestType.REMOTE_DISCONNECT, fields)

    def server_side_emit(self, args: list[Any], ack: ServerAckCallback | None = None) -> None:
        if ack is None:
            self._request(RequestType.SERVER_SIDE_EMIT, {"data": list(args)})
            return
        self._require_bus("server_side_emit")
        others = self.server_count() - 1
        if others <= 0:
            ack(None, [])
            return

        def done(error: Exception | None, responses: list[dict[str, Any]]) -> None:
            ack(error, [response.get("data") for response in responses])

        self._ask(RequestType.SERVER_SIDE_EMIT, {"data": list(args)}, others, done)

    def server_count(self) -> int:
        """Servers subscribed to this namespace's request channel; 1 (only this one is
        reachable) while the bus is down."""
        try:
            return max(1, self.bus.numsub(self.channels.request))
        except BusUnavailable as exc:
            log.debug("server_count while the bus is down: %s", exc)
            return 1

    def close(self) -> None:
        self.bus.unregister(self._subscribed, self._pattern)
        for pending in self._requests.values():
            runtime.kill(pending.timer)
        for _, _, timer in self._acks.values():
            runtime.kill(timer)
        self._requests.clear()
        self._acks.clear()
        super().close()

    # -- messages from the bus -------------------------------------------------------

    def _on_message(self, channel: str, data: bytes) -> None:
        try:
            if channel == self.channels.request:
                self._on_request(wire.decode_request(data))
            elif channel.startswith(self.channels.response):
                self._on_response(wire.decode(data))
            elif channel.startswith(self.channels.broadcast):
                self._on_broadcast(channel, data)
        except wire.MalformedMessage as exc:
            log.debug(
                "namespace %s: malformed message on %s ignored: %s", self.host.name, channel, exc
            )

    def _on_broadcast(self, channel: str, data: bytes) -> None:
        room = channel[len(self.channels.broadcast) : -1]
        if room and room not in self.rooms:
            return  # nobody here is in that room: skip decoding
        message = wire.decode(data)
        if not isinstance(message, list) or len(message) < 3:
            raise wire.MalformedMessage("a broadcast is [uid, packet, opts]")
        uid, raw_packet, raw_opts = message[:3]
        if uid == self.uid:
            return
        packet = wire.packet_from_wire(raw_packet)
        if packet.namespace != self.host.name:
            return
        super().broadcast(packet, wire.opts_from_wire(raw_opts))

    def _on_request(self, request: dict[str, Any]) -> None:
        if request.get("uid") == self.uid:
            return  # we did our own part locally already
        handle_request(self, request)

    def _on_response(self, response: Any) -> None:
        if not isinstance(response, dict):
            raise wire.MalformedMessage("a response is a map")
        request_id = response.get("requestId")
        if not isinstance(request_id, str):
            return
        ack = self._acks.get(request_id)
        if ack is not None:
            on_client_count, on_reply, _ = ack
            if response.get("type") == RequestType.BROADCAST_CLIENT_COUNT:
                count = response.get("clientCount")
                on_client_count(count if isinstance(count, int) else 0)
            elif response.get("type") == RequestType.BROADCAST_ACK:
                on_reply([response.get("packet")])
            return
        pending = self._requests.get(request_id)
        if pending is None:
            return  # another server's request, or one that timed out
        pending.responses.append(response)
        if len(pending.responses) >= pending.expected:
            del self._requests[request_id]
            runtime.kill(pending.timer)
            pending.done(None, list(pending.responses))

    # -- used by adapters.requests (the local half of other servers' requests) ----------

    def local_broadcast_with_ack(
        self,
        packet: SioPacket,
        opts: BroadcastOptions,
        on_client_count: ClientCountCallback,
        on_reply: ReplyCallback,
    ) -> None:
        InMemoryAdapter.broadcast_with_ack(self, packet, opts, on_client_count, on_reply)

    def local_fetch(self, opts: BroadcastOptions) -> list[SocketRecord]:
        return InMemoryAdapter.fetch_sockets(self, opts)

    def local_add(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        InMemoryAdapter.add_sockets(self, opts, rooms)

    def local_del(self, opts: BroadcastOptions, rooms: set[Room]) -> None:
        InMemoryAdapter.del_sockets(self, opts, rooms)

    def local_disconnect(self, opts: BroadcastOptions, close: bool) -> None:
        InMemoryAdapter.disconnect_sockets(self, opts, close)

    def respond(self, request: dict[str, Any], response: dict[str, Any]) -> None:
        self._respond(request, response)
