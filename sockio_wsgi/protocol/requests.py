"""Engine.IO HTTP request rules: which requests are valid, and the spec's error replies.

Pure functions over the request's method, query and headers, so every rule about
handshakes, unknown sids and transports is unit-tested without a server.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import IntEnum

from sockio_wsgi.protocol.eio import PROTOCOL_VERSION


class EngineErrorCode(IntEnum):
    """Error codes and messages of Engine.IO HTTP error replies."""

    UNKNOWN_TRANSPORT = 0
    UNKNOWN_SID = 1
    BAD_HANDSHAKE_METHOD = 2
    BAD_REQUEST = 3
    FORBIDDEN = 4
    UNSUPPORTED_PROTOCOL_VERSION = 5

    @property
    def text(self) -> str:
        return _MESSAGES[self]

    @property
    def http_status(self) -> int:
        return 403 if self is EngineErrorCode.FORBIDDEN else 400

    def body(self) -> bytes:
        return json.dumps({"code": int(self), "message": self.text}, separators=(",", ":")).encode()


_MESSAGES = {
    EngineErrorCode.UNKNOWN_TRANSPORT: "Transport unknown",
    EngineErrorCode.UNKNOWN_SID: "Session ID unknown",
    EngineErrorCode.BAD_HANDSHAKE_METHOD: "Bad handshake method",
    EngineErrorCode.BAD_REQUEST: "Bad request",
    EngineErrorCode.FORBIDDEN: "Forbidden",
    EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION: "Unsupported protocol version",
}


class EngineRequestError(Exception):
    """A request the spec answers with an HTTP error."""

    def __init__(self, code: EngineErrorCode, detail: str = "") -> None:
        super().__init__(f"{code.text}{': ' + detail if detail else ''}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class EngineRequest:
    """A validated Engine.IO request."""

    method: str
    transport: str
    sid: str | None
    is_websocket_upgrade: bool

    @property
    def is_handshake(self) -> bool:
        return self.sid is None


def parse_request(
    method: str,
    query: dict[str, str],
    *,
    allowed_transports: tuple[str, ...],
    upgrade_header: str = "",
) -> EngineRequest:
    """Validate the parts of a request that need no session lookup.

    Raises :class:`EngineRequestError` with the code the spec gives for each fault.
    """
    transport = query.get("transport", "")
    if transport not in allowed_transports:
        raise EngineRequestError(EngineErrorCode.UNKNOWN_TRANSPORT)
    if query.get("EIO") != str(PROTOCOL_VERSION):
        raise EngineRequestError(EngineErrorCode.UNSUPPORTED_PROTOCOL_VERSION)
    is_upgrade = upgrade_header.lower() == "websocket"
    if transport == "websocket" and not is_upgrade:
        raise EngineRequestError(
            EngineErrorCode.BAD_REQUEST, "websocket transport needs an upgrade"
        )
    if transport == "polling" and is_upgrade:
        raise EngineRequestError(EngineErrorCode.BAD_REQUEST, "polling transport cannot upgrade")
    sid = query.get("sid") or None
    if sid is None and method != "GET":
        raise EngineRequestError(EngineErrorCode.BAD_HANDSHAKE_METHOD)
    if transport == "polling" and method not in ("GET", "POST"):
        raise EngineRequestError(EngineErrorCode.BAD_REQUEST, f"method {method} not allowed")
    return EngineRequest(method, transport, sid, is_upgrade)
