"""Server API pieces that need no connection: namespaces, registration, shutdown."""

from __future__ import annotations

import re
from typing import Any

import sockio_wsgi
from sockio_wsgi.server.dynamic import ParentNamespace


def test_of_returns_namespaces_and_parents() -> None:
    sio = sockio_wsgi.Server()
    created: list[str] = []
    sio.on("new_namespace", lambda namespace: created.append(namespace.name))
    assert sio.of("chat") is sio.of("/chat")
    parent = sio.of(re.compile(r"^/t-\d+$"))
    assert isinstance(parent, ParentNamespace)
    assert parent.matches("/t-1", None) and not parent.matches("/t-x", None)
    assert sio.of("/t-9").parent is parent and "/t-9" in parent.children
    assert created == ["/chat", "/t-9"]


def test_a_failing_matcher_matches_nothing() -> None:
    def matcher(name: str, auth: Any) -> bool:
        raise RuntimeError("matcher bug")

    parent = sockio_wsgi.Server().of(matcher)
    assert parent.matches("/x", {}) is False


def test_room_events_and_new_namespace_are_not_event_handlers() -> None:
    sio = sockio_wsgi.Server()
    nsp = sio.of("/")
    nsp.on("create-room", lambda room: None)
    nsp.on("new_namespace", lambda namespace: None)
    nsp.on("chat", lambda socket: None)
    assert set(nsp.handlers) == {"chat"}
    assert set(nsp.room_handlers) == {"create-room"}


def test_server_side_handlers_answer_other_servers() -> None:
    sio = sockio_wsgi.Server()

    @sio.on_server_side("sum")
    def add(*numbers: int) -> int:
        return sum(numbers)

    replies: list[Any] = []
    sio.of("/").on_server_side_emit(["sum", 1, 2, 3], replies.append)
    sio.of("/").on_server_side_emit(["unknown"], replies.append)
    assert replies == [6]


def test_close_refuses_new_handshakes_with_503() -> None:
    sio = sockio_wsgi.Server()
    sio.close()
    statuses: list[str] = []
    environ = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/socket.io/",
        "QUERY_STRING": "EIO=4&transport=polling",
    }
    body = b"".join(sio.eio(environ, lambda status, headers: statuses.append(status)))
    assert statuses[0].startswith("503")
    assert body == b'{"code":3,"message":"Server shutting down"}'
