"""HTTP long-polling: a GET waits for the session's outbox, a POST feeds it packets."""

from __future__ import annotations

import logging
from typing import Any

from sockio_wsgi.engine.http import (
    TEXT_PLAIN,
    VARY_ACCEPT_ENCODING,
    Response,
    choose_encoding,
    compress_body,
    error_response,
    read_body,
    text_response,
)
from sockio_wsgi.engine.socket import EngineSocket
from sockio_wsgi.engine.websocket import CONNECTION_KEY
from sockio_wsgi.protocol.eio import NOOP, Packet, decode_payload, encode_payload
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.requests import EngineErrorCode
from sockio_wsgi.protocol.session import CloseReason

log = logging.getLogger("sockio_wsgi.engine.polling")


def handle_get(
    sock: EngineSocket, environ: dict[str, Any], compression_threshold: int | None = None
) -> Response:
    """Answer a poll with every queued packet, waiting until there is one.

    With ``compression_threshold`` (HTTP compression on), a body of that many bytes or more
    is gzip- or deflate-encoded as the request's ``Accept-Encoding`` allows, unless every
    packet in it was sent with ``compress=False`` (as engine.io decides)."""
    try:
        sock.session.start_poll()
    except ProtocolError as exc:
        log.info("session %s: %s; closing it", sock.sid, exc)
        sock.close(CloseReason.TRANSPORT_ERROR)
        return error_response(EngineErrorCode.BAD_REQUEST)
    try:
        packets = sock.wait_for_output(environ.get(CONNECTION_KEY))
    finally:
        sock.end_poll()
    response = _payload_response(packets, environ, compression_threshold)
    if packets and packets[0] is not NOOP:
        # packets the client never gets must not be lost silently: the session ends, so
        # the client knows (as engine.io)
        response.on_undelivered = sock.poll_undelivered
    return response


def _payload_response(
    packets: list[Packet], environ: dict[str, Any], compression_threshold: int | None
) -> Response:
    if compression_threshold is None:
        return text_response(200, encode_payload(packets))
    body = encode_payload(packets).encode("utf-8")
    headers = [("Content-Type", TEXT_PLAIN), VARY_ACCEPT_ENCODING]
    if len(body) >= compression_threshold and any(p.compress for p in packets):
        encoding = choose_encoding(environ.get("HTTP_ACCEPT_ENCODING", ""))
        if encoding is not None:
            body = compress_body(body, encoding)
            headers.append(("Content-Encoding", encoding))
    return Response(200, body, headers)


def handle_post(sock: EngineSocket, environ: dict[str, Any], max_size: int) -> Response:
    """Decode a payload and hand each packet to the session, in order."""
    body = read_body(environ, max_size)
    if body is None:
        log.info("session %s: POST body over %d bytes; closing it", sock.sid, max_size)
        sock.close(CloseReason.TRANSPORT_ERROR)
        return text_response(413, "Payload Too Large")
    try:
        packets = decode_payload(body.decode("utf-8"))
    except (ProtocolError, UnicodeDecodeError) as exc:
        sock.receive_invalid(exc)
        return error_response(EngineErrorCode.BAD_REQUEST)
    for packet in packets:
        if sock.closed:
            break
        sock.receive(packet)
    return Response(200, b"ok", [("Content-Type", "text/html")])
