"""HTTP long-polling: a GET waits for the session's outbox, a POST feeds it packets."""

from __future__ import annotations

import logging
from typing import Any

from sockio_wsgi.engine.http import Response, error_response, read_body, text_response
from sockio_wsgi.engine.socket import EngineSocket
from sockio_wsgi.protocol.eio import decode_payload, encode_payload
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.requests import EngineErrorCode
from sockio_wsgi.protocol.session import CloseReason

log = logging.getLogger("sockio_wsgi.engine.polling")


def handle_get(sock: EngineSocket) -> Response:
    """Answer a poll with every queued packet, waiting until there is one."""
    try:
        sock.session.start_poll()
    except ProtocolError as exc:
        log.info("session %s: %s; closing it", sock.sid, exc)
        sock.close(CloseReason.TRANSPORT_ERROR)
        return error_response(EngineErrorCode.BAD_REQUEST)
    try:
        packets = sock.wait_for_output()
    finally:
        sock.end_poll()
    return text_response(200, encode_payload(packets))


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
