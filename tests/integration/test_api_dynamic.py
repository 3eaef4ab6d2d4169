"""Official socket.io-client against our server: dynamic namespaces.

``sio.of(re.compile(...))`` or ``sio.of(fn)`` is a parent: a CONNECT to a matching
unknown name creates the child namespace then and there; it shares the parent's
handlers and middleware, and ``new_namespace`` hears of it.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

import sockio_wsgi
from tests.helpers.node import NodeClient
from tests.helpers.server import serving_sio
from tests.helpers.sio_interop import Recorder, barrier, connected_sid, received

pytestmark = pytest.mark.node


def make_sio(record: Recorder, **options: Any) -> sockio_wsgi.Server:
    sio = sockio_wsgi.Server(**options)

    @sio.on("new_namespace")
    def new_namespace(namespace: sockio_wsgi.Namespace) -> None:
        record.add("new_namespace", namespace.name)

    teams = sio.of(re.compile(r"^/team-\d+$"))

    @teams.use
    def team_member(socket: sockio_wsgi.Socket, auth: Any) -> None:
        if (auth or {}).get("team") != socket.nsp:
            raise sockio_wsgi.ConnectionRefusedError("wrong team", {"nsp": socket.nsp})

    @teams.on("connect")
    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        record.add("connect", socket.nsp)

    @teams.on("where")
    def where(socket: sockio_wsgi.Socket) -> Any:
        return socket.nsp

    @teams.on("disconnect")
    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        record.add("disconnect", (socket.nsp, reason))

    rooms = sio.of(lambda name, auth: name.startswith("/room/") and bool(auth))

    @rooms.on("where")
    def room_where(socket: sockio_wsgi.Socket) -> Any:
        return ["room", socket.nsp]

    return sio


def test_a_matching_connect_creates_the_child(client: NodeClient, record: Recorder) -> None:
    sio = make_sio(record)
    with serving_sio(sio) as running:
        assert "/team-7" not in sio.namespaces
        client.connect(running.url, "t7", nsp="/team-7", auth={"team": "/team-7"})
        connected_sid(client, "t7")
        assert record.wait("new_namespace") == "/team-7"
        assert record.values("connect") == ["/team-7"]
        assert client.call("t7", "where") == ["/team-7"]
        child = sio.namespaces["/team-7"]
        assert child.parent is not None and "/team-7" in child.parent.children

        # the parent's middleware applies to the child; refusal data reaches the client
        client.connect(
            running.url, "t8", nsp="/team-8", auth={"team": "/team-7"}, reconnection=False
        )
        error = client.wait_for("connect_error", id="t8")
        assert (error["message"], error["data"]) == ("wrong team", {"nsp": "/team-8"})


def test_non_matching_names_stay_invalid(client: NodeClient, record: Recorder) -> None:
    sio = make_sio(record)
    with serving_sio(sio) as running:
        client.connect(running.url, "x", nsp="/team-x", reconnection=False)
        assert client.wait_for("connect_error", id="x")["message"] == "Invalid namespace"
        # a callable parent sees the auth: without it, no namespace
        client.connect(running.url, "r0", nsp="/room/a", reconnection=False)
        assert client.wait_for("connect_error", id="r0")["message"] == "Invalid namespace"
        client.connect(running.url, "r1", nsp="/room/a", auth={"ok": 1})
        connected_sid(client, "r1")
        assert client.call("r1", "where") == [["room", "/room/a"]]
        assert record.values("new_namespace") == ["/room/a"]


def test_parent_emit_reaches_every_child(client: NodeClient, record: Recorder) -> None:
    sio = make_sio(record)
    with serving_sio(sio) as running:
        for n in (1, 2):
            nsp = f"/team-{n}"
            client.connect(running.url, f"t{n}", nsp=nsp, auth={"team": nsp})
            connected_sid(client, f"t{n}")
        client.connect(running.url, "main")
        connected_sid(client, "main")
        teams = sio.parents[0]
        assert teams.emit("all_teams", 1) == 2
        for id in ("t1", "t2"):
            assert client.wait_for("event", id=id, event="all_teams")["args"] == [1]
        barrier(sio, client, "main")
        assert received(client, "main", "all_teams") == []


@pytest.mark.parametrize("cleanup", [True, False])
def test_empty_children_are_removed_when_configured(
    client: NodeClient, record: Recorder, cleanup: bool
) -> None:
    sio = make_sio(record, cleanup_empty_child_namespaces=cleanup)
    with serving_sio(sio) as running:
        client.connect(running.url, "a", nsp="/team-3", auth={"team": "/team-3"})
        client.connect(running.url, "b", nsp="/team-3", auth={"team": "/team-3"}, forceNew=True)
        connected_sid(client, "a")
        connected_sid(client, "b")
        client.disconnect("a")
        record.wait("disconnect")
        assert "/team-3" in sio.namespaces  # one socket left
        client.disconnect("b")
        record.wait("disconnect", lambda v: len(record.values("disconnect")) == 2)
        assert ("/team-3" in sio.namespaces) is (not cleanup)
        # connecting again creates (or reuses) the child
        client.connect(running.url, "c", nsp="/team-3", auth={"team": "/team-3"}, forceNew=True)
        connected_sid(client, "c")
        assert client.call("c", "where") == ["/team-3"]
        assert record.values("new_namespace") == ["/team-3"] * (2 if cleanup else 1)


def test_of_with_a_matching_name_creates_the_child(record: Recorder) -> None:
    sio = make_sio(record)
    child = sio.of("/team-42")
    assert child.parent is sio.parents[0]
    assert record.values("new_namespace") == ["/team-42"]
    assert sio.of("/plain").parent is None
