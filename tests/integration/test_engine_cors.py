"""CORS on a real server: allowed origins, credentials, preflight, and refusals."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.raw import (
    EngineHarness,
    HTTPResult,
    WebSocketRejected,
    eio_target,
    parse_open,
    request,
    serving_engine,
)

GOOD = "https://good.example"
BAD = "https://evil.example"


def handshake(h: EngineHarness, origin: str | None) -> HTTPResult:
    headers = {"Origin": origin} if origin else {}
    return request(h.address, "GET", eio_target(transport="polling"), headers=headers)


def assert_cors_allowed(resp: HTTPResult, origin: str, credentials: bool = True) -> None:
    assert resp.header("Access-Control-Allow-Origin") == origin
    assert resp.header("Vary") == "Origin"
    if credentials:
        assert resp.header("Access-Control-Allow-Credentials") == "true"
    else:
        assert resp.header("Access-Control-Allow-Credentials") is None


def assert_forbidden(resp: HTTPResult) -> None:
    assert resp.status == 403
    assert resp.json() == {"code": 4, "message": "Forbidden"}
    # a refused origin is not told it may read the response
    assert resp.header("Access-Control-Allow-Origin") is None
    assert resp.header("Access-Control-Allow-Credentials") is None


RULES: list[tuple[str, Any]] = [
    ("list", [GOOD, "https://other.example"]),
    ("string", GOOD),
    ("callable", lambda origin: origin.startswith("https://good.")),
]


@pytest.mark.parametrize("rule", [r for _, r in RULES], ids=[n for n, _ in RULES])
def test_allowed_origin_gets_cors_headers_and_other_origins_403(rule: Any) -> None:
    with serving_engine(cors_allowed_origins=rule, echo=True) as h:
        ok = handshake(h, GOOD)
        assert ok.status == 200
        assert_cors_allowed(ok, GOOD)
        assert_forbidden(handshake(h, BAD))
        # every request of the session is checked, not only the handshake
        client = h.polling(headers={"Origin": GOOD})
        post = client.post_raw("4hi")
        assert post.status == 200
        assert_cors_allowed(post, GOOD)
        get = client.get_raw()
        assert get.text == "4hi"
        assert_cors_allowed(get, GOOD)
        client.headers = {"Origin": BAD}
        assert_forbidden(client.post_raw("4sneaky"))
        assert_forbidden(client.get_raw())
        assert not h.recorder.is_disconnected(client.sid)


def test_star_allows_any_origin_without_credentials() -> None:
    with serving_engine(cors_allowed_origins="*") as h:
        for origin in (GOOD, BAD, "http://localhost:3000"):
            resp = handshake(h, origin)
            assert resp.status == 200
            # any page may read the response, none with the user's cookies
            assert resp.header("Access-Control-Allow-Origin") == "*"
            assert resp.header("Access-Control-Allow-Credentials") is None


def test_credentials_can_be_turned_off() -> None:
    with serving_engine(cors_allowed_origins=[GOOD], cors_credentials=False) as h:
        resp = handshake(h, GOOD)
        assert resp.status == 200
        assert_cors_allowed(resp, GOOD, credentials=False)


def test_default_allows_same_origin_only() -> None:
    with serving_engine() as h:
        same = f"http://127.0.0.1:{h.port}"
        ok = handshake(h, same)
        assert ok.status == 200
        assert_cors_allowed(ok, same)
        assert_forbidden(handshake(h, BAD))
        assert_forbidden(handshake(h, f"http://127.0.0.1:{h.port + 1}"))
        assert_forbidden(handshake(h, f"https://127.0.0.1:{h.port}"))  # another scheme


def test_requests_without_origin_are_allowed_without_cors_headers() -> None:
    with serving_engine(cors_allowed_origins=[GOOD]) as h:
        resp = handshake(h, None)
        assert resp.status == 200
        assert resp.header("Access-Control-Allow-Origin") is None


def test_empty_list_turns_origin_checks_off() -> None:
    with serving_engine(cors_allowed_origins=[]) as h:
        resp = handshake(h, BAD)
        assert resp.status == 200
        assert resp.header("Access-Control-Allow-Origin") is None


def test_callable_that_raises_refuses() -> None:
    def rule(origin: str) -> bool:
        raise RuntimeError("boom")

    with serving_engine(cors_allowed_origins=rule) as h:
        assert_forbidden(handshake(h, GOOD))


def test_error_responses_for_allowed_origins_carry_cors_headers() -> None:
    with serving_engine(cors_allowed_origins=[GOOD]) as h:
        resp = request(
            h.address,
            "GET",
            eio_target(transport="polling", sid="nope"),
            headers={"Origin": GOOD},
        )
        assert resp.status == 400 and resp.json()["code"] == 1
        assert_cors_allowed(resp, GOOD)


def test_preflight() -> None:
    with serving_engine(cors_allowed_origins=[GOOD]) as h:
        resp = request(
            h.address,
            "OPTIONS",
            eio_target(transport="polling"),
            headers={
                "Origin": GOOD,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type, x-custom",
            },
        )
        assert resp.status == 204
        assert resp.body == b""
        assert_cors_allowed(resp, GOOD)
        methods = {
            m.strip() for m in (resp.header("Access-Control-Allow-Methods") or "").split(",")
        }
        assert {"GET", "POST", "OPTIONS"} <= methods
        assert resp.header("Access-Control-Allow-Headers") == "content-type, x-custom"
        assert h.recorder.connected == []


def test_preflight_without_requested_headers() -> None:
    with serving_engine(cors_allowed_origins="*") as h:
        resp = request(
            h.address,
            "OPTIONS",
            eio_target(transport="polling"),
            headers={"Origin": GOOD, "Access-Control-Request-Method": "GET"},
        )
        assert resp.status == 204
        assert resp.header("Access-Control-Allow-Headers") is None


def test_preflight_from_disallowed_origin_is_403() -> None:
    with serving_engine(cors_allowed_origins=[GOOD]) as h:
        resp = request(
            h.address,
            "OPTIONS",
            eio_target(transport="polling"),
            headers={"Origin": BAD, "Access-Control-Request-Method": "POST"},
        )
        assert_forbidden(resp)


def test_disallowed_origin_cannot_open_a_websocket() -> None:
    with serving_engine(cors_allowed_origins=[GOOD]) as h:
        with pytest.raises(WebSocketRejected) as info:
            h.websocket(headers={"Origin": BAD})
        assert info.value.status == 403
        assert info.value.json() == {"code": 4, "message": "Forbidden"}
        assert "access-control-allow-origin" not in info.value.headers
        assert h.recorder.connected == []
        ws = h.websocket(headers={"Origin": GOOD})
        try:
            assert parse_open(str(ws.recv()))["upgrades"] == []
        finally:
            ws.close()


def test_disallowed_origin_cannot_upgrade_a_session() -> None:
    with serving_engine(cors_allowed_origins=[GOOD], echo=True) as h:
        client = h.polling(headers={"Origin": GOOD})
        with pytest.raises(WebSocketRejected) as info:
            h.websocket(headers={"Origin": BAD}, sid=client.sid)
        assert info.value.status == 403
        assert info.value.json()["code"] == 4
        # the session is untouched and can still upgrade from the right origin
        ws = h.websocket(headers={"Origin": GOOD}, sid=client.sid)
        try:
            ws.send("2probe")
            assert ws.recv() == "3probe"
            ws.send("5")
            ws.send("4over ws")
            frame = ws.recv()
            while frame == "6":  # the probe's noop, when no GET was parked
                frame = ws.recv()
            assert frame == "4over ws"
        finally:
            ws.close()
