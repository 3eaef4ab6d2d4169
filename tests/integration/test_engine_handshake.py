"""Engine.IO handshakes and HTTP error replies on a real server, checked on the wire."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.raw import (
    WebSocketRejected,
    eio_target,
    parse_open,
    request,
    serving_engine,
    split_payload,
)

HANDSHAKE_KEYS = {"sid", "upgrades", "pingInterval", "pingTimeout", "maxPayload"}


def test_polling_handshake_is_an_open_packet_with_exact_fields() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=12345) as h:
        resp = request(h.address, "GET", eio_target(transport="polling"))
        assert resp.status == 200
        assert resp.header("Content-Type") == "text/plain; charset=UTF-8"
        assert resp.text.startswith("0{")
        packets = split_payload(resp.text)
        assert len(packets) == 1
        info = parse_open(packets[0])
        assert set(info) == HANDSHAKE_KEYS
        assert isinstance(info["sid"], str) and info["sid"]
        assert info["upgrades"] == ["websocket"]
        assert info["pingInterval"] == 300
        assert info["pingTimeout"] == 200
        assert info["maxPayload"] == 12345
        assert h.recorder.connected == [info["sid"]]


def test_default_intervals_are_milliseconds() -> None:
    with serving_engine() as h:
        info = h.polling().handshake
        assert (info["pingInterval"], info["pingTimeout"]) == (25000, 20000)
        assert info["maxPayload"] == 1_000_000


def test_each_handshake_gets_a_new_sid() -> None:
    with serving_engine() as h:
        sids = {h.polling().sid for _ in range(5)}
        assert len(sids) == 5


def test_polling_only_server_offers_no_upgrade() -> None:
    with serving_engine(transports=["polling"]) as h:
        assert h.polling().handshake["upgrades"] == []


def test_websocket_handshake_sends_open_packet_first() -> None:
    with serving_engine(ping_interval=0.3, ping_timeout=0.2, max_http_buffer_size=4096) as h:
        ws = h.websocket()
        try:
            first = ws.recv()
            assert isinstance(first, str) and first.startswith("0{")
            info = parse_open(first)
            assert set(info) == HANDSHAKE_KEYS
            assert info["upgrades"] == []
            assert (info["pingInterval"], info["pingTimeout"]) == (300, 200)
            assert info["maxPayload"] == 4096
            assert h.recorder.connected == [info["sid"]]
        finally:
            ws.close()


def error_of(resp: Any) -> tuple[int, dict[str, Any]]:
    assert resp.header("Content-Type") == "application/json"
    return resp.status, resp.json()


@pytest.mark.parametrize(
    ("method", "query", "status", "code", "message"),
    [
        ("GET", {"transport": "carrier-pigeon"}, 400, 0, "Transport unknown"),
        ("GET", {"EIO": "4"}, 400, 0, "Transport unknown"),
        ("GET", {"transport": "polling", "sid": "no-such-sid"}, 400, 1, "Session ID unknown"),
        ("POST", {"transport": "polling", "sid": "no-such-sid"}, 400, 1, "Session ID unknown"),
        ("POST", {"transport": "polling"}, 400, 2, "Bad handshake method"),
        ("PUT", {"transport": "polling"}, 400, 2, "Bad handshake method"),
        ("GET", {"transport": "websocket"}, 400, 3, "Bad request"),
        ("GET", {"transport": "polling", "EIO": "3"}, 400, 5, "Unsupported protocol version"),
        ("GET", {"transport": "polling", "EIO": "5"}, 400, 5, "Unsupported protocol version"),
        ("GET", {"transport": "polling", "EIO": ""}, 400, 5, "Unsupported protocol version"),
    ],
)
def test_http_errors_use_spec_codes(
    method: str, query: dict[str, str], status: int, code: int, message: str
) -> None:
    with serving_engine() as h:
        body = "4x" if method != "GET" else None
        resp = request(h.address, method, eio_target(**query), body=body)
        assert error_of(resp) == (status, {"code": code, "message": message})
        assert h.recorder.connected == []


def test_put_on_a_session_is_a_bad_request() -> None:
    with serving_engine() as h:
        client = h.polling()
        resp = request(h.address, "PUT", client.target(), body="4x")
        assert error_of(resp) == (400, {"code": 3, "message": "Bad request"})


def test_websocket_transport_disabled_is_unknown_transport() -> None:
    with serving_engine(transports=["polling"]) as h:
        with pytest.raises(WebSocketRejected) as info:
            h.websocket()
        assert info.value.status == 400
        assert info.value.json() == {"code": 0, "message": "Transport unknown"}


def test_websocket_with_unknown_sid_is_refused() -> None:
    with serving_engine() as h:
        with pytest.raises(WebSocketRejected) as info:
            h.websocket(sid="no-such-sid")
        assert info.value.status == 400
        assert info.value.json() == {"code": 1, "message": "Session ID unknown"}


def test_websocket_with_old_protocol_is_refused() -> None:
    with serving_engine() as h:
        with pytest.raises(WebSocketRejected) as info:
            h.websocket(EIO="3")
        assert info.value.status == 400
        assert info.value.json()["code"] == 5


# -- allow_request, connect refusal --------------------------------------------------


def test_allow_request_sees_the_environ_and_can_refuse() -> None:
    seen: list[str] = []

    def allow(environ: dict[str, Any]) -> bool:
        seen.append(environ.get("HTTP_X_TOKEN", ""))
        return environ.get("HTTP_X_TOKEN") == "secret"

    with serving_engine(allow_request=allow) as h:
        refused = request(h.address, "GET", eio_target(transport="polling"))
        assert error_of(refused) == (403, {"code": 4, "message": "Forbidden"})
        ok = request(
            h.address, "GET", eio_target(transport="polling"), headers={"X-Token": "secret"}
        )
        assert ok.status == 200
        sid = parse_open(ok.text)["sid"]
        with pytest.raises(WebSocketRejected) as info:
            h.websocket()
        assert info.value.status == 403
        assert info.value.json()["code"] == 4
        # only handshakes are checked, not each request of a session
        client = h.polling(headers={"X-Token": "secret"})
        client.headers = {}
        client.post("4still here")
        assert h.recorder.next_message() == (client.sid, "still here")
        assert seen == ["", "secret", "", "secret"]
        assert h.recorder.connected == [sid, client.sid]


def test_allow_request_that_raises_refuses() -> None:
    def allow(environ: dict[str, Any]) -> bool:
        raise RuntimeError("boom")

    with serving_engine(allow_request=allow) as h:
        resp = request(h.address, "GET", eio_target(transport="polling"))
        assert error_of(resp) == (403, {"code": 4, "message": "Forbidden"})


def test_connect_handler_returning_false_refuses_with_403() -> None:
    with serving_engine() as h:
        h.eio.on("connect", lambda sid, environ: False)
        resp = request(h.address, "GET", eio_target(transport="polling"))
        assert error_of(resp) == (403, {"code": 4, "message": "Forbidden"})
        assert h.eio.sockets == {}


# -- path, cookie, WSGIApp -------------------------------------------------------------


def test_custom_path() -> None:
    with serving_engine(path="engine.io") as h:
        assert h.eio.path == "/engine.io/"
        ok = request(h.address, "GET", eio_target("/engine.io/", transport="polling"))
        assert ok.status == 200 and ok.text.startswith("0{")
        no_slash = request(h.address, "GET", eio_target("/engine.io", transport="polling"))
        assert no_slash.status == 200 and no_slash.text.startswith("0{")
        default = request(h.address, "GET", eio_target("/socket.io/", transport="polling"))
        assert default.status == 404
        ws = h.websocket()
        try:
            assert parse_open(str(ws.recv()))["upgrades"] == []
        finally:
            ws.close()


def test_no_cookie_by_default() -> None:
    with serving_engine() as h:
        client = h.polling()
        assert client.handshake_response is not None
        assert client.handshake_response.header("Set-Cookie") is None


def test_cookie_option_sets_the_sid_cookie() -> None:
    with serving_engine(cookie="io") as h:
        client = h.polling()
        assert client.handshake_response is not None
        cookie = client.handshake_response.header("Set-Cookie")
        assert cookie is not None
        parts = [p.strip() for p in cookie.split(";")]
        assert parts[0] == f"io={client.sid}"
        assert "Path=/" in parts and "HttpOnly" in parts and "SameSite=Lax" in parts
        # later requests of the session set no cookie
        client.post("4x")
        h.eio.send(client.sid, "y")
        assert client.get_raw().header("Set-Cookie") is None


def test_cookie_options_dict() -> None:
    options = {"name": "eio", "path": "/app", "httpOnly": False, "sameSite": "Strict"}
    with serving_engine(cookie=options) as h:
        client = h.polling()
        assert client.handshake_response is not None
        cookie = client.handshake_response.header("Set-Cookie")
        assert cookie == f"eio={client.sid}; Path=/app; SameSite=Strict"


def test_wsgi_app_routes_other_paths_to_the_other_app() -> None:
    def other(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        body = f"other:{environ['PATH_INFO']}".encode()
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Other", "1")])
        return [body]

    with serving_engine(other_app=other) as h:
        resp = request(h.address, "GET", "/index.html")
        assert (resp.status, resp.body, resp.header("X-Other")) == (200, b"other:/index.html", "1")
        # a path that merely starts with the prefix is not the engine's
        resp = request(h.address, "GET", "/socket.iox/?EIO=4&transport=polling")
        assert resp.body == b"other:/socket.iox/"
        assert h.polling().handshake["sid"]


def test_wsgi_app_without_other_app_answers_404() -> None:
    with serving_engine() as h:
        resp = request(h.address, "GET", "/index.html")
        assert resp.status == 404
        resp = request(h.address, "POST", "/api", body="x")
        assert resp.status == 404
        assert h.recorder.connected == []
