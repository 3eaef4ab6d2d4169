"""``socketio.test_client(app)``: Flask-SocketIO's test client over the real protocol.

It is a small Engine.IO v4 long-polling client whose HTTP requests go through the app's
WSGI callable with werkzeug's test client (so a ``flask_test_client``'s cookies, such as
the login session, travel with the handshake). Packets are encoded with the server's own
parser and pass through the real engine and server code; handlers run exactly as in
production, in their own greenlets.

Determinism: every ``emit`` asks for an acknowledgement, and the server sends it after the
handler has returned, behind everything the handler sent to this client; so when ``emit``
returns, ``get_received()`` holds what the handler emitted here. ``connect`` returns after
the CONNECT reply (the connect handler has run), ``disconnect`` after the server's
disconnect handler. Waiting uses gevent primitives only, so the test process needs no
monkey patching (handlers that do blocking I/O still want it, as in production).
"""

from __future__ import annotations

import itertools
import json
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import gevent
import gevent.event
from flask import Flask

from flask_ext.context import http_client_for, http_request
from flask_ext.state import SYNC_NAMESPACE
from sockio_wsgi.protocol.eio import CLOSE, PONG, Packet, PacketType, decode_payload, message
from sockio_wsgi.protocol.eio import encode_payload as encode_polling
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.sio import SioPacket, SioType

if TYPE_CHECKING:
    from flask_ext.extension import SocketIO

log = logging.getLogger("flask_ext.testing")

# A CONNECT to a namespace nobody serves (SYNC_NAMESPACE) is answered at once ("Invalid
# namespace"), behind everything already queued for this client: a barrier that needs no
# help from the server.


def _ns(namespace: str | None) -> str:
    if not namespace:
        return "/"
    return namespace if namespace.startswith("/") else "/" + namespace


class SocketIOTestClient:
    """One Engine.IO connection to ``app``, with any number of namespaces on it."""

    #: seconds any wait (connect, a handler's ack, disconnect) may take before it fails
    timeout: float = 10.0

    def __init__(
        self,
        app: Flask,
        socketio: SocketIO,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
        flask_test_client: Any = None,
    ) -> None:
        self.app = app
        self.socketio = socketio
        self._state = socketio.state_for(app)
        server = self._state.server
        self._parser = server.parser
        self._path = server.eio.path
        self._http = http_client_for(app, flask_test_client)
        self.eio_sid: str | None = None
        self.sids: dict[str, str] = {}
        self.connected: dict[str, bool] = {}
        self.connect_errors: dict[str, Any] = {}
        self.queue: list[dict[str, Any]] = []
        self.handlers: dict[str, Callable[..., Any]] = {}
        self._query = ""
        self._headers: dict[str, str] = {}
        self._decoder: Any = None
        self._poller: Any = None
        self._ack_ids = itertools.count()
        self._acks: dict[int, tuple[str, gevent.event.AsyncResult]] = {}
        self._connecting: dict[str, gevent.event.Event] = {}
        self._gone: dict[str, gevent.event.Event] = {}
        self._unhandled: dict[str, list[Exception]] = {}
        self.connect(namespace, query_string=query_string, headers=headers, auth=auth)

    # -- public API (Flask-SocketIO's) -------------------------------------------------

    def is_connected(self, namespace: str | None = None) -> bool:
        return self.connected.get(_ns(namespace), False)

    def connect(
        self,
        namespace: str | None = None,
        query_string: str | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Any = None,
    ) -> None:
        """Join ``namespace``; returns once the server accepted or refused (see
        :meth:`get_connect_error`). The first call opens the Engine.IO session."""
        ns = _ns(namespace)
        if self.connected.get(ns):
            raise RuntimeError(f"already connected to {ns}")
        if self.eio_sid is None:
            self._open(query_string, headers)
        done = self._connecting[ns] = gevent.event.Event()
        self.connect_errors.pop(ns, None)
        self._send(SioPacket(SioType.CONNECT, ns, auth))
        if not done.wait(self.timeout):
            raise TimeoutError(f"no answer to CONNECT {ns} within {self.timeout}s")

    def get_connect_error(self, namespace: str | None = None) -> Any:
        """The CONNECT_ERROR data (``{"message": ..., "data": ...}``) of a refused connect."""
        return self.connect_errors.get(_ns(namespace))

    def emit(
        self,
        event: str,
        *args: Any,
        callback: bool = False,
        namespace: str | None = None,
        **ignored: Any,
    ) -> Any:
        """Emit and wait until the handler has run; with ``callback=True`` return its ack
        (one value as is, several as a list). Other keywords (``broadcast=``, ``to=``...)
        are ignored, as by Flask-SocketIO's test client."""
        ns = self._require(namespace)
        if not self._state.handles(ns, event):
            # no handler will run, so no ack would come: the event goes out as a client
            # would send it, and the barrier makes sure the server has taken it in
            self._send(SioPacket(SioType.EVENT, ns, [event, *args]))
            self._sync()
            return None
        ack_id = next(self._ack_ids)
        result = gevent.event.AsyncResult()
        self._acks[ack_id] = (ns, result)
        try:
            self._send(SioPacket(SioType.EVENT, ns, [event, *args], ack_id))
            reply = result.get(timeout=self.timeout)
        except gevent.Timeout:
            raise TimeoutError(
                f"the handler of {event!r} on {ns} did not finish within {self.timeout}s"
            ) from None
        finally:
            self._acks.pop(ack_id, None)
        unhandled = self._unhandled.get(ns)
        if unhandled:  # the handler raised and no error handler took it
            raise unhandled.pop(0)
        if reply is None:  # disconnected while the handler ran: wait for its cleanup
            self._wait_gone(ns)
            return None
        if callback:
            return reply[0] if len(reply) == 1 else reply
        return None

    def send(
        self,
        data: Any,
        json: bool = False,
        callback: bool = False,
        namespace: str | None = None,
    ) -> Any:
        event = "json" if json else "message"
        return self.emit(event, data, callback=callback, namespace=namespace)

    def get_received(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """Take what the server sent on ``namespace``: ``{"name", "args", "namespace"}``
        (also after a disconnect, where Flask-SocketIO's raises, so last words are seen)."""
        ns = _ns(namespace)
        self._sync()  # what the server queued before this call (socketio.emit in a view...)
        taken = [item for item in self.queue if item["namespace"] == ns]
        self.queue = [item for item in self.queue if item["namespace"] != ns]
        return taken

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Answer the server's ``call()``/``emit_with_ack`` of ``event`` with
        ``handler(*args)``'s return value (the event is still recorded)."""
        self.handlers[event] = handler

    def disconnect(self, namespace: str | None = None) -> None:
        """Leave ``namespace``; returns after the server's disconnect handler ran. Leaving
        the last namespace closes the Engine.IO session."""
        ns = self._require(namespace)
        self.connected[ns] = False
        self._send(SioPacket(SioType.DISCONNECT, ns))
        self._wait_gone(ns)
        if not any(self.connected.values()):
            self._close()

    def __enter__(self) -> SocketIOTestClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for ns, connected in list(self.connected.items()):
            if connected:
                self.disconnect(ns)
        self._close()

    # -- Engine.IO over the app's WSGI callable ----------------------------------------

    def _require(self, namespace: str | None) -> str:
        ns = _ns(namespace)
        if not self.connected.get(ns):
            raise RuntimeError(f"not connected to {ns}")
        return ns

    def _request(self, method: str, body: str | None = None) -> tuple[int, str]:
        query = "EIO=4&transport=polling"
        if self.eio_sid is not None:
            query += "&sid=" + self.eio_sid
        if self._query:
            query += "&" + self._query
        return http_request(self._http, method, self._path, query, self._headers, body)

    def _open(self, query_string: str | None, headers: Mapping[str, str] | None) -> None:
        self._query = (query_string or "").lstrip("?")
        self._headers = dict(headers or {})
        status, body = self._request("GET")
        if status != 200:
            raise ConnectionError(f"Engine.IO handshake refused: {status} {body}")
        packets = decode_payload(body)
        if not packets or packets[0].type is not PacketType.OPEN:
            raise ConnectionError(f"Engine.IO handshake answered {body!r}")
        self.eio_sid = json.loads(packets[0].data)["sid"]
        self._decoder = self._parser.decoder()
        self._poller = gevent.spawn(self._poll, self.eio_sid)

    def _post(self, packets: list[Packet]) -> None:
        if self.eio_sid is None:
            raise RuntimeError("the Engine.IO session is closed")
        status, body = self._request("POST", encode_polling(packets))
        if status != 200:
            log.info("POST answered %s %s", status, body)

    def _send(self, packet: SioPacket) -> None:
        self._post([message(part) for part in self._parser.encode(packet)])

    def _poll(self, sid: str) -> None:
        try:
            while self.eio_sid == sid:
                status, body = self._request("GET")
                if status != 200:
                    log.info("poll answered %s %s", status, body)
                    return
                for packet in decode_payload(body):
                    if packet.type is PacketType.PING:
                        self._post([PONG])
                    elif packet.type is PacketType.MESSAGE:
                        self._on_message(packet.data)
                    elif packet.type is PacketType.CLOSE:
                        return
        except (ProtocolError, RuntimeError) as exc:
            log.info("test client session %s ended: %s", sid, exc)
        except Exception:
            log.exception("test client session %s failed", sid)
        finally:
            if self.eio_sid == sid:
                self._lost()

    def _close(self) -> None:
        if self.eio_sid is None:
            return
        try:
            self._post([CLOSE])
        finally:
            self.eio_sid = None
            if self._poller is not None:
                self._poller.join(timeout=self.timeout)
            self._lost()

    def _lost(self) -> None:
        """The Engine.IO session is over: every namespace is gone, every wait ends."""
        self.eio_sid = None
        for ns in list(self.connected):
            self.connected[ns] = False
        for _, result in list(self._acks.values()):
            result.set(None)
        for done in self._connecting.values():
            done.set()

    # -- Socket.IO packets from the server ---------------------------------------------

    def _on_message(self, data: str | bytes) -> None:
        packet = self._decoder.feed(data)
        if packet is None:
            return
        ns = packet.namespace
        if packet.type is SioType.CONNECT:
            self.sids[ns] = packet.data["sid"]
            self.connected[ns] = True
            self._gone[ns] = self._state.expect_disconnect(packet.data["sid"])
            self._unhandled[ns] = self._state.unhandled_errors(packet.data["sid"])
            self._connected(ns)
        elif packet.type is SioType.CONNECT_ERROR:
            self.connected[ns] = False
            self.connect_errors[ns] = packet.data
            self._connected(ns)
        elif packet.type is SioType.EVENT:
            self._on_event(packet)
        elif packet.type is SioType.ACK:
            pending = self._acks.pop(packet.id, None) if packet.id is not None else None
            if pending is not None:
                pending[1].set(packet.args)
        elif packet.type is SioType.DISCONNECT:
            self.connected[ns] = False
            for ack_id, (ack_ns, result) in list(self._acks.items()):
                if ack_ns == ns:
                    self._acks.pop(ack_id, None)
                    result.set(None)

    def _connected(self, ns: str) -> None:
        done = self._connecting.pop(ns, None)
        if done is not None:
            done.set()

    def _on_event(self, packet: SioPacket) -> None:
        name, args = packet.event, packet.args
        if name in ("message", "json"):
            item = {"name": name, "args": args[0] if args else None}
        else:
            item = {"name": name, "args": args}
        item["namespace"] = packet.namespace
        self.queue.append(item)
        handler = self.handlers.get(name)
        if packet.id is not None and handler is not None:
            gevent.spawn(self._answer, handler, packet)

    def _answer(self, handler: Callable[..., Any], packet: SioPacket) -> None:
        assert packet.id is not None
        result = handler(*packet.args)
        reply = [] if result is None else list(result) if isinstance(result, tuple) else [result]
        self._send(SioPacket(SioType.ACK, packet.namespace, reply, packet.id))

    def _sync(self) -> None:
        """Return once everything the server queued for this client so far is received."""
        if self.eio_sid is None:
            return
        done = self._connecting[SYNC_NAMESPACE] = gevent.event.Event()
        self._send(SioPacket(SioType.CONNECT, SYNC_NAMESPACE, None))
        if not done.wait(self.timeout):
            raise TimeoutError(f"the server did not answer within {self.timeout}s")
        self.connect_errors.pop(SYNC_NAMESPACE, None)
        if self.connected.pop(SYNC_NAMESPACE, False):  # an app serving every namespace
            self._send(SioPacket(SioType.DISCONNECT, SYNC_NAMESPACE))
        self._gone.pop(SYNC_NAMESPACE, None)

    def _wait_gone(self, ns: str) -> None:
        gone = self._gone.get(ns)
        if gone is not None and not gone.wait(self.timeout):
            raise TimeoutError(f"the disconnect handler of {ns} did not finish in time")
