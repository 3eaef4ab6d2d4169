"""The Socket.IO v5 client: namespaces over one Engine.IO session, with reconnection.

Threads only (greenlets once gevent has monkey-patched): the engine's reader and writer,
one dispatcher that runs user handlers in order, one timer thread for ack timeouts and a
reconnector while reconnecting. All of them end when the client is disconnected.

Delivery. Without ``retries`` an emit is sent at most once: if the connection drops
after it was queued it may be lost. With ``retries > 0`` every non-volatile emit joins
an ordered queue and is sent one at a time, each waiting for its ack; an emit not acked
within ``ack_timeout`` (or cut off by a disconnection) is sent again, the same emit with
a new ack id, until acked or tried ``retries + 1`` times by timeout. That is
at-least-once, in order: the server may see an emit twice. Emits made while
disconnected wait in a buffer of ``max_buffer`` (``BufferFullError`` when full) and go
out in order after the reconnection; volatile emits are dropped instead.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sockio_wsgi.client.backoff import Backoff
from sockio_wsgi.client.dispatch import Dispatcher, Timers
from sockio_wsgi.client.engine import TRANSPORTS, ConnectionError, EngineClient, make_target
from sockio_wsgi.client.handlers import Handlers
from sockio_wsgi.client.outgoing import NamespaceState, Outgoing, ack_args
from sockio_wsgi.client.transports import Target
from sockio_wsgi.exceptions import DisconnectedError, SocketIOError
from sockio_wsgi.protocol.errors import ProtocolError
from sockio_wsgi.protocol.parsers import Parser, get_parser
from sockio_wsgi.protocol.sio import SioPacket, SioType, ack_packet

log = logging.getLogger("sockio_wsgi.client")

Auth = Mapping[str, Any] | Callable[[], Mapping[str, Any] | None] | None


class Client(Outgoing):
    """A Socket.IO client; see the module docstring for delivery guarantees.

    ``reconnection_attempts=0`` retries forever; delays are in seconds. ``max_buffer``
    bounds the offline buffer and the retry queue of each namespace (``None``: no bound).
    """

    def __init__(
        self,
        *,
        reconnection: bool = True,
        reconnection_attempts: int = 0,
        reconnection_delay: float = 1.0,
        reconnection_delay_max: float = 5.0,
        randomization_factor: float = 0.5,
        retries: int = 0,
        ack_timeout: float | None = None,
        max_buffer: int | None = 1000,
        parser: str | Parser = "json",
        request_timeout: float = 10.0,
        ssl_verify: bool = True,
        ssl_context: Any = None,
    ) -> None:
        self.reconnection = reconnection
        self.reconnection_attempts = reconnection_attempts
        self.reconnection_delay = reconnection_delay
        self.reconnection_delay_max = reconnection_delay_max
        self.randomization_factor = randomization_factor
        self.retries = retries
        self.ack_timeout = ack_timeout
        self.max_buffer = max_buffer
        self.parser: Parser = get_parser(parser)
        self.request_timeout = request_timeout
        self.ssl_verify = ssl_verify
        self.ssl_context = ssl_context
        Handlers.__init__(self)
        self._lock = threading.RLock()
        self._namespaces: dict[str, NamespaceState] = {}
        self._engine: EngineClient | None = None
        self._retired: EngineClient | None = None
        self._engines: list[EngineClient] = []  # every engine that may still have threads
        self._target: Target | None = None
        self._transports: list[str] = list(TRANSPORTS)
        self._auth: Auth = None
        self._closing = True
        self._stop = threading.Event()
        self._finished = threading.Event()
        self._finished.set()
        self._reconnector: threading.Thread | None = None
        self._dispatcher = Dispatcher("sockio_wsgi.client.dispatcher")
        self._timers = Timers("sockio_wsgi.client.timers")
        self._finish_hooks: list[Callable[[], None]] = []

    # -- state -----------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        """True while every namespace of the connection is connected."""
        with self._lock:
            spaces = [ns for ns in self._namespaces.values() if ns.wanted]
            return bool(spaces) and all(ns.connected for ns in spaces)

    @property
    def sid(self) -> str | None:
        """The Socket.IO id in ``"/"`` (or the first namespace when "/" is not used)."""
        ns = self._main_namespace()
        return ns.sid if ns is not None else None

    def get_sid(self, namespace: str = "/") -> str | None:
        ns = self._namespaces.get(namespace)
        return ns.sid if ns is not None else None

    @property
    def recovered(self) -> bool:
        """Whether the last (re)connection restored the session (connection state recovery)."""
        ns = self._main_namespace()
        return ns.recovered if ns is not None else False

    @property
    def transport(self) -> str | None:
        """``"polling"`` or ``"websocket"`` while connected, else None."""
        engine = self._engine
        return engine.transport if engine is not None and engine.writable else None

    @property
    def namespaces(self) -> list[str]:
        """The namespaces currently connected."""
        with self._lock:
            return [ns.name for ns in self._namespaces.values() if ns.connected]

    def _main_namespace(self) -> NamespaceState | None:
        with self._lock:
            return self._namespaces.get("/") or next(iter(self._namespaces.values()), None)

    # -- connecting ------------------------------------------------------------------

    def connect(
        self,
        url: str,
        namespaces: str | Iterable[str] | None = None,
        auth: Auth = None,
        headers: Mapping[str, str] | None = None,
        transports: str | Iterable[str] | None = None,
        socketio_path: str = "socket.io",
        wait_timeout: float = 5.0,
        query: Mapping[str, str] | None = None,
    ) -> None:
        """Connect and wait up to ``wait_timeout`` for every namespace to be accepted.

        ``namespaces`` defaults to those with registered handlers, or ``"/"``. ``auth``
        is a dict or a callable returning one, called again on every reconnection.
        Raises :class:`ConnectionError` (with ``data`` from a refusing server).
        """
        if isinstance(namespaces, str):
            names = [namespaces]
        elif namespaces is not None:
            names = list(namespaces)
        else:
            names = self.handled_namespaces() or ["/"]
        names = [n if n.startswith("/") else "/" + n for n in names]
        if isinstance(transports, str):
            transports = [transports]
        with self._lock:
            if not self._finished.is_set():
                raise SocketIOError("already connected; call disconnect() first")
            self._target = make_target(
                url,
                socketio_path=socketio_path,
                headers=headers,
                query=query,
                ssl_verify=self.ssl_verify,
                ssl_context=self.ssl_context,
                connect_timeout=self.request_timeout,
            )
            self._transports = list(transports or TRANSPORTS)
            self._auth = auth
            self._namespaces = {n: NamespaceState(n, self.max_buffer) for n in dict.fromkeys(names)}
            self._closing = False
            self._stop.clear()
            self._finished.clear()
            self._dispatcher = Dispatcher("sockio_wsgi.client.dispatcher")
            self._timers = Timers("sockio_wsgi.client.timers")
        try:
            self._open()
        except BaseException:
            self.disconnect()
            raise
        for ns in list(self._namespaces.values()):
            if not ns.ready.wait(wait_timeout):
                self.disconnect()
                raise ConnectionError(f"namespace {ns.name} not connected within {wait_timeout}s")
            if ns.error is not None:
                self.disconnect()
                error = ns.error
                raise ConnectionError(str(error.get("message", error)), error.get("data"))

    def _open(self) -> None:
        """Open a new engine session and ask for every wanted namespace."""
        auth = self._auth() if callable(self._auth) else self._auth
        target = self._target
        assert target is not None
        decoder = self.parser.decoder()
        engine: EngineClient

        def on_message(data: str | bytes) -> None:
            if engine is self._engine:
                packet = decoder.feed(data)
                if packet is not None:
                    self._on_packet(packet)

        def on_close(reason: str) -> None:
            self._on_engine_close(engine, reason)

        engine = EngineClient(on_message, on_close, self._transports)
        with self._lock:
            if self._closing:
                raise ConnectionError("client disconnected")
            self._engine = engine
            self._engines = [e for e in self._engines if e.alive] + [engine]
        try:
            engine.connect(target)
        except BaseException:
            with self._lock:
                if self._engine is engine:
                    self._engine = None
            raise
        with self._lock:
            closing = self._closing_now()
            if not closing:
                self._send_connects(auth)
        if closing:
            engine.close()
            raise ConnectionError("the connection ended while connecting")

    def _closing_now(self) -> bool:
        return self._closing

    def _send_connects(self, auth: Mapping[str, Any] | None) -> None:
        """Ask for every namespace still wanted (lock held)."""
        for ns in self._namespaces.values():
            if ns.wanted:
                data = dict(auth) if auth is not None else None
                if ns.pid is not None:  # connection state recovery: ask for the session back
                    data = {"pid": ns.pid, "offset": ns.offset, **(data or {})}
                self._send(SioPacket(SioType.CONNECT, ns.name, data))

    def _send(self, packet: SioPacket) -> bool:
        engine = self._engine
        return engine is not None and engine.send(self.parser.encode(packet))

    # -- incoming --------------------------------------------------------------------

    def _on_packet(self, packet: SioPacket) -> None:
        try:
            self._route(packet)
        finally:
            retired, self._retired = self._retired, None
            if retired is not None:
                retired.close()  # never under the lock: closing joins the engine's threads

    def _route(self, packet: SioPacket) -> None:
        with self._lock:
            ns = self._namespaces.get(packet.namespace)
            if ns is None:
                log.debug("packet for unknown namespace %s ignored", packet.namespace)
                return
            kind = packet.type
            if kind is SioType.CONNECT:
                self._on_connect(ns, packet.data)
            elif kind is SioType.CONNECT_ERROR:
                error = packet.data if isinstance(packet.data, dict) else {"message": packet.data}
                ns.error = error
                ns.ready.set()
                self._fire(ns.name, "connect_error", error)
                self._abandon(ns)
            elif kind is SioType.DISCONNECT:
                self._namespace_down(ns, "io server disconnect")
                self._abandon(ns)
            elif kind is SioType.EVENT:
                if ns.connected:
                    self._deliver(ns, packet)
                else:  # a recovered session replays missed events before its CONNECT reply
                    ns.received.append(packet)
            elif kind is SioType.ACK and packet.id is not None:
                self._on_ack(ns, packet.id, packet.args)

    def _deliver(self, ns: NamespaceState, packet: SioPacket) -> None:
        args = packet.args
        if ns.pid is not None and args and isinstance(args[-1], str):
            ns.offset = args[-1]  # the server appends the offset when recovery is on
        self._dispatcher.submit(self._run_handler, ns.name, packet.data[0], args, packet.id)

    def _on_connect(self, ns: NamespaceState, data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("sid"), str):
            raise ProtocolError("CONNECT reply without a sid")
        pid = data.get("pid") if isinstance(data.get("pid"), str) else None
        ns.recovered = pid is not None and pid == ns.pid
        if pid is None or pid != ns.pid:
            ns.offset = None
        ns.pid, ns.sid, ns.connected, ns.error = pid, data["sid"], True, None
        log.info("connected to %s as %s (recovered: %s)", ns.name, ns.sid, ns.recovered)
        for emit in ns.buffer.drain():
            if not emit.cancelled and not self._send_emit(ns, emit):
                ns.buffer.append(emit)  # lost the engine again: keep it for the next time
        self._drain_queue(ns, force=True)
        received, ns.received = ns.received, []
        for packet in received:  # as socket.io-client: replayed events, then "connect"
            self._deliver(ns, packet)
        ns.ready.set()
        self._fire(ns.name, "connect")

    def _run_handler(self, namespace: str, event: Any, args: list[Any], ack_id: int | None) -> None:
        for any_handler in list(self.any_handlers.get(namespace, [])):
            try:
                any_handler(event, *args)
            except Exception:
                log.exception("on_any handler failed for %r", event)
        handler = self.handlers.get(namespace, {}).get(event) if isinstance(event, str) else None
        if handler is None:
            log.debug("no handler for %r on %s", event, namespace)
            return
        result = handler(*args)
        if ack_id is not None:
            with self._lock:
                ns = self._namespaces.get(namespace)
                if ns is not None and ns.connected:
                    self._send(ack_packet(namespace, ack_id, ack_args(result)))

    def _fire(self, namespace: str, event: str, *args: Any) -> None:
        handler = self.handlers.get(namespace, {}).get(event)
        if handler is not None:
            self._dispatcher.submit(handler, *args)

    # -- losing the connection -------------------------------------------------------

    def _abandon(self, ns: NamespaceState) -> None:
        """The server ended ``ns`` for good (lock held): fail what waits there, and close
        the connection once no namespace is left to serve."""
        ns.wanted = False
        for emit in ns.buffer.drain() + ns.queue.drain():
            if emit.timer is not None:
                emit.timer.cancel()
            self._fail(emit, DisconnectedError(f"namespace {ns.name} was closed"))
        if any(other.wanted for other in self._namespaces.values()):
            return
        self._closing = True
        self._retired, self._engine = self._engine, None  # closed by _on_packet, unlocked
        self._finish(join=False)

    def _on_engine_close(self, engine: EngineClient, reason: str) -> None:
        with self._lock:
            if engine is not self._engine:
                return
            self._engine = None
            if self._closing:
                return
            log.info("connection lost: %s", reason)
            for ns in self._namespaces.values():
                self._namespace_down(ns, reason)
            if not any(ns.wanted for ns in self._namespaces.values()):
                self._closing = True
                self._finish(join=False)
            elif self.reconnection:
                if self._reconnector is None:
                    self._reconnector = threading.Thread(
                        target=self._reconnect_loop,
                        name="sockio_wsgi.client.reconnector",
                        daemon=True,
                    )
                    self._reconnector.start()
            else:
                self._closing = True
                self._finish(join=False)

    def _reconnect_loop(self) -> None:
        backoff = Backoff(
            self.reconnection_delay, self.reconnection_delay_max, self.randomization_factor
        )
        attempt = 0
        while True:
            if self.reconnection_attempts and attempt >= self.reconnection_attempts:
                log.info("giving up after %d reconnection attempts", attempt)
                with self._lock:
                    self._reconnector = None
                    self._fire("/", "reconnect_failed")
                    self._closing = True
                    self._finish(join=False)
                return
            if self._stop.wait(backoff.next_delay()):
                break
            attempt += 1
            with self._lock:
                self._fire("/", "reconnect_attempt", attempt)
            try:
                self._open()
            except ConnectionError as exc:
                log.info("reconnection attempt %d failed: %s", attempt, exc)
                with self._lock:
                    self._fire("/", "reconnect_error", exc)
                continue
            with self._lock:
                if self._engine is not None or self._closing:
                    self._reconnector = None
                    if not self._closing:
                        self._fire("/", "reconnect", attempt)
                    return
        with self._lock:
            self._reconnector = None

    # -- disconnecting ---------------------------------------------------------------

    def disconnect(self) -> None:
        """Leave every namespace and close the connection; no reconnection follows.

        Waits (bounded) for the client's threads to end, except when called from one.
        """
        with self._lock:
            self._closing = True
            self._stop.set()
            engine, self._engine = self._engine, None
            for ns in self._namespaces.values():
                if ns.connected and engine is not None:
                    engine.send(self.parser.encode(SioPacket(SioType.DISCONNECT, ns.name)))
                ns.wanted = False
                self._namespace_down(ns, "io client disconnect")
            reconnector = self._reconnector
            engines, self._engines = self._engines, []
        if engine is not None:
            engine.close()
        for old in engines:
            old.join()
        if reconnector is not None and reconnector is not threading.current_thread():
            reconnector.join(5.0)
        with self._lock:
            self._finish(join=True)

    def _finish(self, join: bool) -> None:
        """The client is done for good (lock held): fail what waits, stop the threads."""
        if self._finished.is_set():
            if join:
                self._join_helpers()
            return
        for ns in self._namespaces.values():
            ns.ready.set()
            for emit in ns.buffer.drain() + ns.queue.drain():
                if emit.timer is not None:
                    emit.timer.cancel()
                self._fail(emit, DisconnectedError("the client was disconnected"))
        self._timers.stop(join=False)
        self._dispatcher.stop(join=False)
        self._finished.set()
        for hook in list(self._finish_hooks):
            hook()
        if join:
            self._join_helpers()

    def _join_helpers(self) -> None:
        """Wait for the timer and dispatcher threads (lock held, released meanwhile)."""
        self._lock.release()
        try:
            self._timers.stop(join=True)
            self._dispatcher.stop(join=True)
        finally:
            self._lock.acquire()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the client is disconnected for good; False on ``timeout``."""
        return self._finished.wait(timeout)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.disconnect()
