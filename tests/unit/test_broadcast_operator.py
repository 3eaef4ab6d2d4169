"""BroadcastOperator over InMemoryAdapter and a small real host (adapter_fakes.py).

Also a cluster-shaped adapter (two servers, the other one simulated) to show that the
operator counts servers and clients as socket.io does, so a Redis adapter can plug in.
"""

from __future__ import annotations

from typing import Any

import gevent
import pytest

import sockio_wsgi
from sockio_wsgi.adapters.base import BroadcastOptions, ClientCountCallback, ReplyCallback
from sockio_wsgi.adapters.memory import InMemoryAdapter
from sockio_wsgi.protocol.sio import SioPacket
from sockio_wsgi.server.broadcast import BroadcastOperator
from sockio_wsgi.server.remote import RemoteSocket
from tests.unit.adapter_fakes import FakeHost, texts


def operator(host: FakeHost) -> BroadcastOperator:
    return BroadcastOperator(host)  # type: ignore[arg-type]


def test_each_step_returns_a_new_operator() -> None:
    base = operator(FakeHost())
    chained = base.to("a").to(["b", "c"]).in_("d").except_("x").except_(["y"])
    assert base.options == BroadcastOptions()
    assert chained.options.rooms == {"a", "b", "c", "d"}
    assert chained.options.except_rooms == {"x", "y"}
    flagged = chained.volatile.local.compress(False).timeout(2.5)
    assert (flagged.options.volatile, flagged.options.local) == (True, True)
    assert (flagged.options.compress, flagged.options.timeout) == (False, 2.5)
    assert chained.options.volatile is False and chained.options.timeout is None


def test_emit_goes_through_the_adapter() -> None:
    host = FakeHost()
    a = host.connect("s1", "r")
    host.connect("s2")
    assert operator(host).to("r").emit("news", 1, "x") == 1
    assert texts(a) == ['2["news",1,"x"]']
    assert operator(host).send("hi") == 2
    with pytest.raises(ValueError):
        operator(host).emit("disconnect")


def test_emit_with_ack_returns_one_reply_per_socket() -> None:
    host = FakeHost()
    host.connect("s1", reply=["one"])
    host.connect("s2", reply=["a", 2])
    host.connect("s3", reply=[])
    replies = operator(host).timeout(5).emit_with_ack("ask")
    assert sorted(replies, key=repr) == sorted(["one", ("a", 2), None], key=repr)


def test_emit_with_ack_times_out_with_partial_replies() -> None:
    host = FakeHost()
    host.connect("s1", reply=["yes"])
    host.connect("s2")  # never answers
    with pytest.raises(sockio_wsgi.TimeoutError) as caught:
        operator(host).emit_with_ack("ask", timeout=0.05)
    assert caught.value.replies == ["yes"]
    assert str(caught.value) == "1 of 2 clients did not ack 'ask' within 0.05s"


def test_emit_with_ack_needs_a_deadline_and_skips_unwritable_volatile() -> None:
    host = FakeHost()
    host.connect("s1", reply=["yes"])
    host.connect("s2", writable=False)  # skipped, so not waited for
    with pytest.raises(ValueError):
        operator(host).emit_with_ack("ask")
    assert operator(host).volatile.timeout(5).emit_with_ack("ask") == ["yes"]


def test_emit_callback_runs_once() -> None:
    host = FakeHost()
    host.connect("s1", reply=[1])
    host.connect("s2", reply=[2])
    calls: list[tuple[Any, list[Any]]] = []
    count = operator(host).timeout(5).emit("ask", callback=lambda e, r: calls.append((e, r)))
    assert count == 2
    assert [(err, sorted(replies)) for err, replies in calls] == [(None, [1, 2])]


def test_emit_to_each_calls_back_per_client_with_the_raw_args() -> None:
    host = FakeHost()
    host.connect("s1", reply=["a", 1])
    host.connect("s2", reply=["b", 2])
    calls: list[tuple[Any, ...]] = []
    assert operator(host).emit_to_each("ask", callback=lambda *args: calls.append(args)) == 2
    assert sorted(calls) == [("a", 1), ("b", 2)]


def test_fetch_sockets_wraps_records_in_remote_sockets() -> None:
    host = FakeHost()
    host.connect("s1", "r", data={"user": "ada"})
    host.connect("s2")
    (found,) = operator(host).in_("r").fetch_sockets()
    assert isinstance(found, RemoteSocket)
    assert (found.id, found.nsp, found.data) == ("s1", "/", {"user": "ada"})
    assert found.rooms == {"s1", "r"}
    found.emit("direct", 1)
    assert texts(host.clients["s1"]) == ['2["direct",1]']
    assert host.clients["s2"].received == []
    found.join(["x", "y"])
    found.leave("y")
    assert host.adapter.socket_rooms("s1") == {"s1", "r", "x"}
    found.disconnect(close=True)
    assert "s1" not in host.clients


def test_sockets_join_leave_and_disconnect_sockets() -> None:
    host = FakeHost()
    for sid in ("s1", "s2", "s3"):
        host.connect(sid)
    operator(host).except_("s3").sockets_join("team")
    assert host.adapter.sockets(frozenset({"team"})) == {"s1", "s2"}
    operator(host).in_("s1").sockets_leave(["team"])
    assert host.adapter.sockets(frozenset({"team"})) == {"s2"}
    operator(host).in_("team").disconnect_sockets()
    assert set(host.clients) == {"s1", "s3"}


class TwoServerAdapter(InMemoryAdapter):
    """The local half is the in-memory adapter; a simulated second server reports its
    client count and replies later, from another greenlet, as a cluster would."""

    remote_clients: list[list[Any]] = [["remote"]]
    remote_reports = True

    def server_count(self) -> int:
        return 2

    def broadcast_with_ack(
        self,
        packet: SioPacket,
        opts: BroadcastOptions,
        on_client_count: ClientCountCallback,
        on_reply: ReplyCallback,
    ) -> None:
        super().broadcast_with_ack(packet, opts, on_client_count, on_reply)
        if not self.remote_reports:
            return

        def remote() -> None:
            on_client_count(len(self.remote_clients))
            for reply in self.remote_clients:
                on_reply(reply)

        gevent.spawn(remote)


def test_acks_from_another_server_are_awaited() -> None:
    host = FakeHost(adapter=TwoServerAdapter)
    host.connect("s1", reply=["local"])
    assert sorted(operator(host).timeout(5).emit_with_ack("ask")) == ["local", "remote"]


def test_a_server_that_never_reports_means_a_timeout() -> None:
    host = FakeHost(adapter=TwoServerAdapter)
    host.adapter.remote_reports = False
    host.connect("s1", reply=["local"])
    with pytest.raises(sockio_wsgi.TimeoutError) as caught:
        operator(host).timeout(0.05).emit_with_ack("ask")
    assert caught.value.replies == ["local"]
    message = str(caught.value)
    assert message.startswith("1 of 2 servers did not report their client count for 'ask'")
    assert "(1 of 1 acks from the others)" in message
