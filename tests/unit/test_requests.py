"""Engine.IO HTTP request validation and the spec's error replies."""

from __future__ import annotations

import json

import pytest

from sockio_wsgi.protocol.requests import (
    EngineErrorCode,
    EngineRequest,
    EngineRequestError,
    parse_request,
)

BOTH = ("polling", "websocket")


def q(**kwargs: str) -> dict[str, str]:
    return {"EIO": "4", **kwargs}


@pytest.mark.parametrize(
    ("code", "number", "message", "status"),
    [
        (EngineErrorCode.UNKNOWN_TRANSPORT, 0, "Transport unknown", 400),
        (EngineErrorCode.UNKNOWN_SID, 1, "Session ID unknown", 400),
        (EngineErrorCode.BAD_HANDSHAKE_METHOD, 2, "Bad handshake method", 400),
        (EngineErrorCode.BAD_REQUEST, 3, "Bad request", 400),
        (EngineErrorCode.FORBIDDEN, 4, "Forbidden", 403),
        (EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION, 5, "Unsupported protocol version", 400),
    ],
)
def test_error_codes(code: EngineErrorCode, number: int, message: str, status: int) -> None:
    assert int(code) == number
    assert code.text == message
    assert code.http_status == status
    assert json.loads(code.body()) == {"code": number, "message": message}


def test_error_body_is_compact_json() -> None:
    assert EngineErrorCode.UNKNOWN_TRANSPORT.body() == b'{"code":0,"message":"Transport unknown"}'
    assert EngineErrorCode.FORBIDDEN.body() == b'{"code":4,"message":"Forbidden"}'


def test_request_error_carries_code_and_detail() -> None:
    error = EngineRequestError(EngineErrorCode.BAD_REQUEST, "why")
    assert error.code is EngineErrorCode.BAD_REQUEST
    assert error.detail == "why"
    assert str(error) == "Bad request: why"
    assert str(EngineRequestError(EngineErrorCode.UNKNOWN_SID)) == "Session ID unknown"


def _code(method: str, query: dict[str, str], upgrade: str = "", **kw: object) -> EngineErrorCode:
    transports = kw.get("transports", BOTH)
    assert isinstance(transports, tuple)
    with pytest.raises(EngineRequestError) as info:
        parse_request(method, query, allowed_transports=transports, upgrade_header=upgrade)
    return info.value.code


# -- valid requests ----------------------------------------------------------------------


def test_polling_handshake() -> None:
    request = parse_request("GET", q(transport="polling"), allowed_transports=BOTH)
    assert request == EngineRequest("GET", "polling", None, False)
    assert request.is_handshake


def test_websocket_handshake() -> None:
    request = parse_request(
        "GET", q(transport="websocket"), allowed_transports=BOTH, upgrade_header="websocket"
    )
    assert request == EngineRequest("GET", "websocket", None, True)
    assert request.is_handshake


def test_upgrade_header_is_case_insensitive() -> None:
    request = parse_request(
        "GET", q(transport="websocket"), allowed_transports=BOTH, upgrade_header="WebSocket"
    )
    assert request.is_websocket_upgrade


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_polling_with_sid(method: str) -> None:
    request = parse_request(method, q(transport="polling", sid="abc"), allowed_transports=BOTH)
    assert request == EngineRequest(method, "polling", "abc", False)
    assert not request.is_handshake


def test_websocket_upgrade_of_a_session() -> None:
    request = parse_request(
        "GET",
        q(transport="websocket", sid="abc"),
        allowed_transports=BOTH,
        upgrade_header="websocket",
    )
    assert request.sid == "abc"
    assert request.is_websocket_upgrade
    assert not request.is_handshake


def test_extra_query_parameters_are_ignored() -> None:
    request = parse_request(
        "GET", q(transport="polling", t="NzX1a2", j="0"), allowed_transports=BOTH
    )
    assert request.is_handshake


def test_empty_sid_means_handshake() -> None:
    assert parse_request("GET", q(transport="polling", sid=""), allowed_transports=BOTH).sid is None


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query", [q(), q(transport=""), q(transport="flashsocket"), q(transport="POLLING")]
)
def test_unknown_transport(query: dict[str, str]) -> None:
    assert _code("GET", query) is EngineErrorCode.UNKNOWN_TRANSPORT


def test_transport_not_allowed_by_configuration() -> None:
    query = q(transport="polling")
    assert _code("GET", query, transports=("websocket",)) is EngineErrorCode.UNKNOWN_TRANSPORT
    ws = q(transport="websocket")
    assert (
        _code("GET", ws, "websocket", transports=("polling",)) is EngineErrorCode.UNKNOWN_TRANSPORT
    )


def test_unknown_transport_is_checked_before_the_version() -> None:
    assert _code("GET", {"transport": "nope"}) is EngineErrorCode.UNKNOWN_TRANSPORT


@pytest.mark.parametrize("eio", [None, "", "3", "5", "abc", "4.0", " 4"])
def test_unsupported_protocol_version(eio: str | None) -> None:
    query = {"transport": "polling"}
    if eio is not None:
        query["EIO"] = eio
    assert _code("GET", query) is EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH", "HEAD"])
def test_handshake_must_be_get(method: str) -> None:
    assert _code(method, q(transport="polling")) is EngineErrorCode.BAD_HANDSHAKE_METHOD


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "HEAD"])
def test_polling_with_sid_allows_only_get_and_post(method: str) -> None:
    assert _code(method, q(transport="polling", sid="abc")) is EngineErrorCode.BAD_REQUEST


@pytest.mark.parametrize("sid", [None, "abc"])
def test_websocket_without_upgrade_header(sid: str | None) -> None:
    query = q(transport="websocket") if sid is None else q(transport="websocket", sid=sid)
    assert _code("GET", query) is EngineErrorCode.BAD_REQUEST
    assert _code("GET", query, "h2c") is EngineErrorCode.BAD_REQUEST


def test_polling_with_upgrade_header() -> None:
    assert _code("GET", q(transport="polling"), "websocket") is EngineErrorCode.BAD_REQUEST


def test_error_statuses_for_parse_failures_are_400() -> None:
    codes = [
        _code("GET", q(transport="x")),
        _code("GET", {"transport": "polling", "EIO": "3"}),
        _code("POST", q(transport="polling")),
        _code("GET", q(transport="websocket")),
    ]
    assert [c.http_status for c in codes] == [400, 400, 400, 400]
