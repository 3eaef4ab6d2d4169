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


app = sockio_wsgi.WSGIApp(sio)
