"""The app the gunicorn tests serve: a chat on a RedisAdapter, configured by environment."""

from __future__ import annotations

import os
from typing import Any

import sockio_wsgi

factory = sockio_wsgi.RedisAdapter.factory(
    os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"),
    key_prefix=os.environ["SOCKIO_TEST_PREFIX"],
)
sio = sockio_wsgi.Server(adapter=factory)


@sio.on("whoami")
def whoami(socket: sockio_wsgi.Socket) -> dict[str, Any]:
    return {"pid": os.getpid(), "bus": factory.bus.healthy}  # type: ignore[attr-defined]


@sio.on("shout")
def shout(socket: sockio_wsgi.Socket, text: str) -> None:
    sio.emit("shouted", {"text": text, "from": os.getpid()})


@sio.on("join")
def join(socket: sockio_wsgi.Socket, room: str) -> str:
    socket.join(room)
    socket.data["pid"] = os.getpid()
    return "joined"


@sio.on("ask_all")
def ask_all(socket: sockio_wsgi.Socket) -> list[Any]:
    """Every client of the fleet answers ``question``; their answers come back here."""
    return sorted(sio.timeout(5).emit_with_ack("question"), key=str)


@sio.on("census")
def census(socket: sockio_wsgi.Socket, room: str) -> list[list[Any]]:
    return sorted([s.id, s.data.get("pid")] for s in sio.in_(room).fetch_sockets())


@sio.on("gather")
def gather(socket: sockio_wsgi.Socket, room: str, into: str) -> None:
    sio.in_(room).sockets_join(into)


@sio.on("kick")
def kick(socket: sockio_wsgi.Socket, room: str) -> None:
    sio.in_(room).disconnect_sockets()


@sio.on("roll_call")
def roll_call(socket: sockio_wsgi.Socket) -> list[Any]:
    return sorted(sio.server_side_emit_with_ack("whoareyou"))


@sio.on_server_side("whoareyou")
def whoareyou(*args: Any) -> int:
    return os.getpid()


app = sockio_wsgi.WSGIApp(sio)
