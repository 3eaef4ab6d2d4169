"""Engine.IO v4 conformance: every case the Engine.IO protocol's reference test suite checks.

The server is set up as that suite expects: path ``/engine.io/``, pingInterval 300 ms,
pingTimeout 200 ms, maxPayload 1e6, and every message echoed back to its sender. Cases that
other tests already check are listed here and not repeated:

=====================================================  ==========================================
case                                                   test
=====================================================  ==========================================
polling handshake: OPEN packet, its exact fields       test_engine_handshake.py::
                                                       test_polling_handshake_is_an_open_packet_
                                                       with_exact_fields, test_default_intervals_
                                                       are_milliseconds (maxPayload 1e6)
polling handshake: EIO missing or not a number         test_bad_eio_or_transport_is_refused
polling handshake: transport missing or unknown        test_engine_handshake.py::
                                                       test_http_errors_use_spec_codes
polling handshake: POST or PUT is a bad method         test_engine_handshake.py::
                                                       test_http_errors_use_spec_codes
WebSocket handshake: OPEN packet, upgrades []          test_engine_handshake.py::
                                                       test_websocket_handshake_sends_open_packet_
                                                       first
WebSocket handshake: bad EIO or transport              test_bad_eio_or_transport_is_refused
polling: one text packet sent and echoed               test_engine_polling.py::
                                                       test_unicode_message_round_trip,
                                                       test_post_answers_ok_as_text_html
polling: several packets, text and binary, echoed      test_echoes_of_one_payload_come_back_in_
in one payload                                         one_payload
polling: invalid packet closes the session             test_invalid_packet_format_ends_the_
                                                       session_at_once
polling: a duplicate GET closes the session            test_engine_polling.py::
                                                       test_second_concurrent_get_closes_the_session
WebSocket: text and binary packets both ways           test_engine_websocket.py::
                                                       test_websocket_only_messages_both_ways,
                                                       test_upgrade_without_a_pending_poll (echo)
WebSocket: invalid packet closes the session           test_engine_websocket.py::
                                                       test_garbage_text_frame_closes_the_session
heartbeat over polling: ping, pong, three times        test_engine_polling.py::
                                                       test_heartbeat_answered_keeps_polling_
                                                       session_alive
heartbeat over polling: ping timeout ends session      test_polling_session_is_gone_once_its_ping_
                                                       deadline_passed; test_engine_polling.py::
                                                       test_heartbeat_timeout_without_any_poll
heartbeat over WebSocket: ping, pong; timeout closes   test_engine_websocket.py::
                                                       test_websocket_heartbeat
close over polling: CLOSE packet, waiting GET gets a   test_engine_polling.py::
noop, the sid is then unknown                          test_client_close_packet_ends_the_session,
                                                       test_unknown_sid_after_session_ended_by_client
close over WebSocket: CLOSE packet closes the socket   test_engine_websocket.py::
                                                       test_client_close_packet_over_websocket
upgrade: probe, GET after the probe reply gets a       test_engine_websocket.py::
noop, upgrade packet, messages over the WebSocket      test_a_get_after_the_probe_reply_never_takes_
                                                       what_the_websocket_will_carry,
                                                       test_upgrade_from_polling
upgrade: HTTP requests for the sid then refused        test_polling_is_refused_after_a_pipelined_
                                                       upgrade; test_engine_websocket.py::
                                                       test_upgrade_from_polling
upgrade: a second WebSocket for the sid is closed      test_second_websocket_after_a_pipelined_
                                                       upgrade_is_closed; test_engine_websocket.py::
                                                       test_upgrade_from_polling
=====================================================  ==========================================

The Socket.IO protocol's suite repeats the Engine.IO cases against a Socket.IO server; those
run in test_conformance_socketio.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import gevent
import pytest

from tests.helpers.raw import (
    BAD_HANDSHAKE_QUERIES,
    SEP,
    SUITE_OPTIONS,
    EngineHarness,
    RawWebSocket,
    WebSocketClosed,
    WebSocketRejected,
    eio_target,
    probe_websocket,
    request,
    serving_engine,
    wait_upgraded,
    websocket_query,
)


@pytest.fixture
def h() -> Iterator[EngineHarness]:
    """An echoing Engine.IO server configured as the reference suite expects."""
    with serving_engine(echo=True, path="engine.io", **SUITE_OPTIONS) as harness:
        yield harness


@pytest.mark.parametrize("query", BAD_HANDSHAKE_QUERIES.values(), ids=BAD_HANDSHAKE_QUERIES.keys())
def test_bad_eio_or_transport_is_refused(h: EngineHarness, query: dict[str, Any]) -> None:
    """A handshake without ``EIO=4`` or without a known ``transport`` is refused with HTTP
    400, over polling and as a WebSocket upgrade alike; no session is made."""
    resp = request(h.address, "GET", eio_target(h.eio.path, **query))
    assert resp.status == 400, resp.body
    assert set(resp.json()) == {"code", "message"}
    with pytest.raises(WebSocketRejected) as refused:
        RawWebSocket.connect(h.address, eio_target(h.eio.path, **websocket_query(query)))
    assert refused.value.status == 400
    assert h.recorder.connected == []


@pytest.mark.parametrize(
    "payload",
    ["4test1" + SEP + "4test2" + SEP + "4test3", "4hello" + SEP + "bAQIDBA=="],
    ids=["text", "text-and-binary"],
)
def test_echoes_of_one_payload_come_back_in_one_payload(h: EngineHarness, payload: str) -> None:
    """Packets of one POST payload are delivered in order; what the server sends while
    handling them, text or base64 binary, is all in the next GET's payload (the POST is
    answered "ok" only once every packet of it was handled)."""
    client = h.polling()
    resp = client.post_raw(payload)
    assert (resp.status, resp.text) == (200, "ok")
    poll = client.get_raw()
    assert (poll.status, poll.text) == (200, payload)


def test_invalid_packet_format_ends_the_session_at_once(h: EngineHarness) -> None:
    """A POST whose payload is not made of Engine.IO packets is answered 400 and closes the
    session: the next GET, with no GET waiting meanwhile, gets 400 too."""
    client = h.polling()
    resp = client.post_raw("abc")
    assert resp.status == 400
    poll = client.get_raw()
    assert poll.status == 400
    assert poll.json() == {"code": 1, "message": "Session ID unknown"}


def test_polling_session_is_gone_once_its_ping_deadline_passed(h: EngineHarness) -> None:
    """A polling client that never polls nor pongs is gone pingInterval + pingTimeout
    after its handshake (its ping goes out at pingInterval, and the pong is due
    pingTimeout later): a GET then is refused at once, with no CLOSE packet first.

    A client has only the clock to go by, so the test sleeps until that deadline, plus
    100 ms for the server's timers to fire, and polls."""
    client = h.polling()
    opened = time.monotonic()
    gevent.sleep(max(0.0, opened + 0.3 + 0.2 + 0.1 - time.monotonic()))
    poll = client.get_raw()
    assert poll.status == 400, poll.body
    assert poll.json() == {"code": 1, "message": "Session ID unknown"}


def test_polling_is_refused_after_a_pipelined_upgrade(h: EngineHarness) -> None:
    """A client may send the upgrade packet right after its probe, before the probe reply;
    once upgraded, an HTTP request for the sid gets 400 and the WebSocket carries on."""
    client = h.polling()
    ws = probe_websocket(h.address, h.eio.path, client.sid, pipelined=True)
    try:
        wait_upgraded(h.eio, client.sid)
        poll = client.get_raw()
        assert poll.status == 400
        assert poll.json() == {"code": 3, "message": "Bad request"}
        ws.send("4hello")
        assert ws.recv() == "4hello"
    finally:
        ws.close()


def test_second_websocket_after_a_pipelined_upgrade_is_closed(h: EngineHarness) -> None:
    """A WebSocket for a sid already upgraded is closed; the upgraded one carries on."""
    client = h.polling()
    ws = probe_websocket(h.address, h.eio.path, client.sid, pipelined=True)
    try:
        wait_upgraded(h.eio, client.sid)
        second = RawWebSocket.connect(
            h.address, eio_target(h.eio.path, transport="websocket", sid=client.sid)
        )
        try:
            with pytest.raises(WebSocketClosed):
                second.recv()
        finally:
            second.close()
        ws.send("4hello")
        assert ws.recv() == "4hello"
    finally:
        ws.close()
