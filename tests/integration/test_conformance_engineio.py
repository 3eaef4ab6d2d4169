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
polling handshake: EIO missing or not a number         test_bad_handshakes_are_refused
polling handshake: transport missing or unknown        test_engine_handshake.py::
                                                       test_http_errors_use_spec_codes
polling handshake: POST or PUT is a bad method         test_engine_handshake.py::
                                                       test_http_errors_use_spec_codes
WebSocket handshake: OPEN packet, upgrades []          test_engine_handshake.py::
                                                       test_websocket_handshake_sends_open_packet_
                                                       first
WebSocket handshake: bad EIO or transport              test_bad_handshakes_are_refused
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
upgrade: HTTP requests for the sid then refused,       test_upgraded_sid_refuses_polling_and_a_
a second WebSocket for the sid closed                  second_websocket; test_engine_websocket.py::
                                                       test_upgrade_from_polling
=====================================================  ==========================================

The Socket.IO protocol's suite repeats the Engine.IO cases against a Socket.IO server; those
run in test_conformance_socketio.py.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers.raw import (
    SEP,
    SUITE_OPTIONS,
    EngineHarness,
    assert_bad_handshakes_refused,
    assert_gone_after_ping_deadline,
    assert_upgraded_sid_refuses_polling_and_websockets,
    serving_engine,
)


@pytest.fixture
def h() -> Iterator[EngineHarness]:
    """An echoing Engine.IO server configured as the reference suite expects."""
    with serving_engine(echo=True, path="engine.io", **SUITE_OPTIONS) as harness:
        yield harness


def test_bad_handshakes_are_refused(h: EngineHarness) -> None:
    """A handshake without ``EIO=4`` or without a known ``transport`` is refused with HTTP
    400, over polling and as a WebSocket upgrade alike, and so is a polling handshake by
    POST or PUT; no session is made."""
    assert_bad_handshakes_refused(h.address, h.eio.path)
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
    """A polling session that neither polls nor pongs ends pingInterval + pingTimeout after
    its handshake; a GET then is refused at once."""
    assert_gone_after_ping_deadline(h.polling())


def test_upgraded_sid_refuses_polling_and_a_second_websocket(h: EngineHarness) -> None:
    """After an upgrade (the upgrade packet pipelined behind the probe), an HTTP request for
    the sid gets 400 and a second WebSocket for it is closed, while the upgraded WebSocket
    carries on."""
    ws = assert_upgraded_sid_refuses_polling_and_websockets(h.eio, h.address, h.polling())
    try:
        ws.send("4hello")
        assert ws.recv() == "4hello"
    finally:
        ws.close()
