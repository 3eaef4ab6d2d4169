"""Answering other servers' requests: the local half of a cluster operation.

Requests come from other Python servers, Node servers with ``@socket.io/redis-adapter``
and ``@socket.io/redis-emitter``. Every request carrying a ``requestId`` is answered
(the legacy one-socket join/leave/disconnect only by the server that has the socket, as
in Node). Unknown types are logged at debug level and dropped.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from sockio_wsgi import runtime
from sockio_wsgi.adapters import cluster_wire as wire
from sockio_wsgi.adapters.base import BroadcastOptions
from sockio_wsgi.adapters.cluster_wire import RequestType

if TYPE_CHECKING:
    from sockio_wsgi.adapters.redis import RedisAdapter

log = logging.getLogger("sockio_wsgi.adapters.redis")


def _room_list(value: Any) -> set[str]:
    if isinstance(value, str):
        return {value}
    if not isinstance(value, list):
        raise wire.MalformedMessage("rooms are a list")
    return {str(room) for room in value}


def handle_request(adapter: RedisAdapter, request: dict[str, Any]) -> None:
    kind = request["type"]
    request_id = request.get("requestId")
    if kind == RequestType.SOCKETS:
        opts = BroadcastOptions(rooms=frozenset(_room_list(request.get("rooms") or [])))
        sids = sorted(adapter._recipients(opts))
        _answer(adapter, request, {"sockets": sids})
    elif kind == RequestType.ALL_ROOMS:
        _answer(adapter, request, {"rooms": sorted(adapter.rooms)})
    elif kind in (RequestType.REMOTE_JOIN, RequestType.REMOTE_LEAVE):
        _join_or_leave(adapter, request, kind == RequestType.REMOTE_JOIN)
    elif kind == RequestType.REMOTE_DISCONNECT:
        close = bool(request.get("close"))
        if request.get("opts") is not None:
            adapter.local_disconnect(wire.opts_from_wire(request["opts"]), close)
            _answer(adapter, request, {})
        elif isinstance(request.get("sid"), str) and request["sid"] in adapter.sids:
            adapter.host.disconnect_local(request["sid"], close)
            _answer(adapter, request, {})
    elif kind == RequestType.REMOTE_FETCH:
        records = adapter.local_fetch(wire.opts_from_wire(request.get("opts")))
        _answer(adapter, request, {"sockets": [wire.record_to_wire(r) for r in records]})
    elif kind == RequestType.SERVER_SIDE_EMIT:
        _server_side_emit(adapter, request)
    elif kind == RequestType.BROADCAST:
        _broadcast_with_ack(adapter, request)
    else:
        log.debug(
            "namespace %s: unknown request type %r (request %s) ignored",
            adapter.host.name,
            kind,
            request_id,
        )


def _answer(adapter: RedisAdapter, request: dict[str, Any], fields: dict[str, Any]) -> None:
    if request.get("requestId") is not None:
        adapter.respond(request, fields)


def _join_or_leave(adapter: RedisAdapter, request: dict[str, Any], join: bool) -> None:
    if request.get("opts") is not None:
        opts = wire.opts_from_wire(request["opts"])
        rooms = _room_list(request.get("rooms") or [])
        (adapter.local_add if join else adapter.local_del)(opts, rooms)
        _answer(adapter, request, {})
        return
    sid, room = request.get("sid"), request.get("room")
    if isinstance(sid, str) and sid in adapter.sids and room is not None:
        if join:
            adapter.add_all(sid, {str(room)})
        else:
            adapter.delete(sid, str(room))
        _answer(adapter, request, {})


def _server_side_emit(adapter: RedisAdapter, request: dict[str, Any]) -> None:
    """Run the handler on its own greenlet: it is user code and may wait on the bus."""
    data = request.get("data")
    if not isinstance(data, list) or not data:
        raise wire.MalformedMessage("server_side_emit data is [event, *args]")
    if request.get("requestId") is None:
        runtime.spawn(adapter.host.on_server_side_emit, data, None)
        return
    answered = False

    def reply(value: Any) -> None:
        nonlocal answered
        if not answered:
            answered = True
            adapter.respond(request, {"type": int(RequestType.SERVER_SIDE_EMIT), "data": value})

    def run() -> None:
        try:
            adapter.host.on_server_side_emit(data, reply)
        finally:
            reply(None)  # no handler (or it failed): the requester still gets its answer

    runtime.spawn(run)


def _broadcast_with_ack(adapter: RedisAdapter, request: dict[str, Any]) -> None:
    packet = wire.packet_from_wire(request.get("packet"))
    if packet.namespace != adapter.host.name:
        return
    if request.get("requestId") is None:
        raise wire.MalformedMessage("BROADCAST without a requestId")
    opts = wire.opts_from_wire(request.get("opts"))

    def on_client_count(count: int) -> None:
        adapter.respond(
            request,
            {
                "type": int(RequestType.BROADCAST_CLIENT_COUNT),
                "clientCount": count,
            },
        )

    def on_reply(reply: list[Any]) -> None:
        adapter.respond(
            request,
            {
                "type": int(RequestType.BROADCAST_ACK),
                "packet": wire.ack_value(reply),
            },
        )

    adapter.local_broadcast_with_ack(packet, opts, on_client_count, on_reply)
