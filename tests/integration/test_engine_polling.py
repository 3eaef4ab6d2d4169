"""HTTP long-polling and the heartbeat, spoken by hand against a real server."""

from __future__ import annotations

import socket
import time

import gevent

from tests.helpers.raw import (
    SEP,
    binary_packet,
    decode_packet,
    request,
    serving_engine,
)


def test_messages_both_ways() -> None:
    with serving_engine() as h:
        client = h.polling()
        client.post("4hello")
        assert h.recorder.next_message() == (client.sid, "hello")
        h.eio.send(client.sid, "hi there")
        assert client.get() == ["4hi there"]


def test_post_answers_ok_as_text_html() -> None:
    with serving_engine() as h:
        client = h.polling()
        resp = client.post_raw("4x")
        assert (resp.status, resp.body) == (200, b"ok")
        assert resp.header("Content-Type") == "text/html"


def test_unicode_message_round_trip() -> None:
    with serving_engine(echo=True) as h:
        client = h.polling()
        client.post("4héllo €, 日本")
        assert client.get() == ["4héllo €, 日本"]


def test_binary_messages_travel_as_base64() -> None:
    with serving_engine() as h:
        client = h.polling()
        client.post(binary_packet(b"\x00\x01\xfe\xff"))
        assert h.recorder.next_message() == (client.sid, b"\x00\x01\xfe\xff")
        h.eio.send(client.sid, b"\x01\x02\x03")
        packets = client.get()
        assert packets == ["bAQID"]
        assert decode_packet(packets[0]) == b"\x01\x02\x03"


def test_several_packets_in_one_payload_both_ways() -> None:
    with serving_engine() as h:
        client = h.polling()
        client.post("4one", binary_packet(b"\x02"), "4three", "4")
        got = [h.recorder.next_message()[1] for _ in range(4)]
        assert got == ["one", b"\x02", "three", ""]
        for data in ("a", b"\xff", "c"):
            h.eio.send(client.sid, data)
        resp = client.get_raw()
        assert resp.text == SEP.join(["4a", binary_packet(b"\xff"), "4c"])


def test_client_ping_is_answered_with_pong_carrying_its_data() -> None:
    with serving_engine() as h:
        client = h.polling()
        client.post("2hey")
        assert client.get() == ["3hey"]


def test_pending_get_is_answered_when_a_message_is_sent() -> None:
    with serving_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        assert not poll.ready()
        h.eio.send(client.sid, "late")
        assert poll.get(timeout=5) == ["4late"]


def test_post_while_get_is_pending_is_served_concurrently() -> None:
    with serving_engine(echo=True) as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        client.post("4ping-pong")
        assert poll.get(timeout=5) == ["4ping-pong"]


def test_second_concurrent_get_closes_the_session() -> None:
    with serving_engine() as h:
        client = h.polling()
        first = gevent.spawn(client.get_raw)
        h.wait_polling(client.sid)
        second = client.get_raw()
        assert second.status == 400
        assert second.json() == {"code": 3, "message": "Bad request"}
        answered = first.get(timeout=5)
        assert (answered.status, answered.text) == (200, "1")
        assert h.recorder.wait_disconnect(client.sid) == "transport error"
        assert client.get_raw().status == 400


def test_post_over_max_http_buffer_size_is_413_and_closes_the_session() -> None:
    with serving_engine(max_http_buffer_size=100) as h:
        client = h.polling()
        assert client.handshake["maxPayload"] == 100
        client.post("4" + "x" * 99)  # exactly at the limit is fine
        assert h.recorder.next_message()[1] == "x" * 99
        resp = client.post_raw("4" + "x" * 200)
        assert resp.status == 413
        assert h.recorder.wait_disconnect(client.sid) == "transport error"
        assert h.recorder.messages.empty()
        after = client.post_raw("4again")
        assert after.status == 400 and after.json()["code"] == 1


def test_pending_get_learns_of_a_413_close() -> None:
    with serving_engine(max_http_buffer_size=50) as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        assert client.post_raw("4" + "y" * 100).status == 413
        assert poll.get(timeout=5) == ["1"]


def test_invalid_packet_in_post_closes_the_session() -> None:
    with serving_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        resp = client.post_raw("4fine" + SEP + "9nonsense")
        assert resp.status == 400
        assert resp.json() == {"code": 3, "message": "Bad request"}
        assert h.recorder.wait_disconnect(client.sid) == "parse error"
        assert poll.get(timeout=5) == ["1"]
        # a bad payload is refused whole: not even its valid first packet is delivered
        assert h.recorder.messages.empty()


def test_invalid_base64_and_empty_body_close_the_session() -> None:
    with serving_engine() as h:
        for body in ("b!!notbase64", "", "\xff", "4a" + SEP + SEP + "4b"):
            client = h.polling()
            resp = client.post_raw(body)
            assert resp.status == 400, body
            assert h.recorder.wait_disconnect(client.sid) == "parse error", body


def test_non_utf8_body_closes_the_session() -> None:
    with serving_engine() as h:
        client = h.polling()
        resp = client.post_raw(b"4\xff\xfe")
        assert resp.status == 400
        assert h.recorder.wait_disconnect(client.sid) == "parse error"


def test_server_disconnect_answers_pending_get_with_close() -> None:
    with serving_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        h.eio.disconnect(client.sid)
        assert poll.get(timeout=5) == ["1"]
        assert h.recorder.wait_disconnect(client.sid) == "forced close"
        assert client.get_raw().status == 400


def test_server_disconnect_without_a_pending_get_is_told_on_the_next_get() -> None:
    with serving_engine() as h:
        client = h.polling()
        h.eio.disconnect(client.sid)
        assert h.recorder.wait_disconnect(client.sid) == "forced close"
        assert client.post_raw("4too late").status == 400
        assert client.get() == ["1"]
        assert client.get_raw().json() == {"code": 1, "message": "Session ID unknown"}


def test_server_shutdown_closes_polling_sessions() -> None:
    with serving_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        idle = h.polling()
        h.eio.close()
        assert poll.get(timeout=5) == ["1"]
        assert h.recorder.wait_disconnect(client.sid) == "server shutting down"
        assert idle.get() == ["1"]


def test_messages_queued_before_a_server_close_are_delivered_then_close() -> None:
    with serving_engine() as h:
        client = h.polling()
        h.eio.send(client.sid, "last words")
        h.eio.disconnect(client.sid)
        # as in engine.io, the queued packets go out first and the CLOSE on the next poll:
        # a client handles a CLOSE before the packets that share its payload
        assert client.get() == ["4last words"]
        assert client.get() == ["1"]
        assert client.get_raw().status == 400


def test_client_close_packet_ends_the_session() -> None:
    with serving_engine() as h:
        client = h.polling()
        poll = gevent.spawn(client.get)
        h.wait_polling(client.sid)
        client.post("1")
        assert h.recorder.wait_disconnect(client.sid) == "transport close"
        # the parked GET is released (with a noop: the client asked for the close)
        assert poll.get(timeout=5) == ["6"]
        assert client.post_raw("4x").status == 400


def test_sessions_are_independent() -> None:
    with serving_engine(echo=True) as h:
        a, b = h.polling(), h.polling()
        a.post("4for a")
        b.post("4for b")
        assert a.get() == ["4for a"]
        assert b.get() == ["4for b"]
        a.post("1")
        assert h.recorder.wait_disconnect(a.sid) == "transport close"
        b.post("4still")
        assert b.get() == ["4still"]


def test_unknown_sid_after_session_ended_by_client() -> None:
    with serving_engine() as h:
        client = h.polling()
        client.post("1")
        h.recorder.wait_disconnect(client.sid)
        resp = request(h.address, "GET", client.target())
        assert resp.status == 400
        assert resp.json() == {"code": 1, "message": "Session ID unknown"}


# -- heartbeat ---------------------------------------------------------------------------


def test_heartbeat_answered_keeps_polling_session_alive() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        client = h.polling()
        for _ in range(4):  # 1.2 s: several ping intervals and well past one timeout
            assert client.get(timeout=2) == ["2"]
            client.post("3")
        assert not h.recorder.is_disconnected(client.sid)
        client.post("4alive")
        assert h.recorder.next_message() == (client.sid, "alive")


def test_heartbeat_unanswered_closes_polling_session() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        client = h.polling()
        assert client.get(timeout=2) == ["2"]
        poll = gevent.spawn(client.get)
        assert h.recorder.wait_disconnect(client.sid, timeout=2) == "ping timeout"
        assert poll.get(timeout=2) == ["1"]
        assert client.get_raw().status == 400


def test_heartbeat_timeout_without_any_poll() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        client = h.polling()
        assert h.recorder.wait_disconnect(client.sid, timeout=2) == "ping timeout"
        # as engine.io: the session is gone at once, its unanswered ping with it
        for reply in (client.get_raw(timeout=2), client.post_raw("3", timeout=2)):
            assert reply.status == 400
            assert reply.json() == {"code": 1, "message": "Session ID unknown"}


def test_polling_pings_keep_their_period() -> None:
    """A ping every ping_interval after each pong, not every ping_timeout."""
    with serving_engine(ping_interval=0.3, ping_timeout=2.0) as h:
        client = h.polling()
        times = []
        for _ in range(4):
            assert client.get(timeout=3) == ["2"]
            times.append(time.monotonic())
            client.post("3")
        gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
        assert all(gap < 1.0 for gap in gaps), gaps  # 0.3 s each; 2 s if the timer lagged


def test_messages_do_not_replace_pongs() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2) as h:
        client = h.polling()
        assert client.get(timeout=2) == ["2"]
        # only a pong answers a ping: messages keep flowing but the session still times out
        client.post("4busy")
        assert h.recorder.wait_disconnect(client.sid, timeout=2) == "ping timeout"


def test_a_waiting_poll_whose_client_goes_away_ends_the_session() -> None:
    """As engine.io: the session ends with "transport error" at once (not at its ping
    timeout), so nothing is written into a connection nobody reads."""
    with serving_engine(ping_interval=30, ping_timeout=30) as h:
        client = h.polling()
        conn = socket.create_connection(h.address, timeout=5)
        conn.sendall(f"GET {client.target()} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode("latin-1"))
        h.wait_polling(client.sid)
        conn.close()  # the client goes away while its GET waits
        assert h.recorder.wait_disconnect(client.sid, timeout=5) == "transport error"
        assert client.get_raw().status == 400
        other = h.polling()  # the server goes on
        other.post("4hi")
        assert h.recorder.next_message() == (other.sid, "hi")


def test_abandoned_polling_sessions_are_gone_after_interval_and_timeout() -> None:
    with serving_engine(ping_interval=0.2, ping_timeout=0.2) as h:
        sids = [h.polling().sid for _ in range(20)]  # handshakes, then never a GET
        for sid in sids:
            assert h.recorder.wait_disconnect(sid, timeout=3) == "ping timeout"
        assert not set(sids) & set(h.eio.sockets)  # nothing kept for them
