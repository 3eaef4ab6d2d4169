"""WebSocket connections as the engine sees them: one interface, two implementations.

Our own (:mod:`sockio_wsgi.engine.wsproto_connection`, framing on the raw socket that
:mod:`sockio_wsgi.serve`'s handler hands over) and gevent-websocket's
(:mod:`sockio_wsgi.engine.gevent_connection`, when an app runs under its handler). Both
offer the calls of :class:`WebSocket`, so the engine does not care which server accepted
the upgrade; :func:`accept` picks one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from sockio_wsgi.engine.gevent_connection import GeventWebSocketConnection
    from sockio_wsgi.engine.wsproto_connection import WsprotoWebSocket

RAW_SOCKET_KEY = "sockio.raw_socket"
# every request served by our handler: its connection's socket, for a long-poll to notice
# that its client went away
CONNECTION_KEY = "sockio.connection"
UPGRADED_KEY = "sockio.upgraded"
# set by a server handler that lets the connection outlive the request (see serve.py);
# the WebSocket then sets SOCKET_KEPT_KEY and closes the socket itself at the end
SOCKET_KEEPABLE_KEY = "sockio.socket_keepable"
SOCKET_KEPT_KEY = "sockio.socket_kept"
GEVENT_WEBSOCKET_KEY = "wsgi.websocket"

CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_PROTOCOL_ERROR = 1002
CLOSE_INVALID_PAYLOAD = 1007
CLOSE_MESSAGE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011

DEFAULT_COMPRESSION_THRESHOLD = 1024

# ``compress`` of the send calls: one flag for every frame, or one flag per frame
CompressFlags = bool | Sequence[bool]


class WebSocket(Protocol):
    def receive(self, wait: bool = True) -> str | bytes | None:
        """Return the next whole message, or None once the connection is closed.

        ``wait=False`` raises ``BlockingIOError`` instead of waiting for bytes (kept
        connections; others always wait)."""

    def send_frames(self, frames: list[str | bytes], compress: CompressFlags = True) -> None:
        """Write messages in order as one unit; raise ``OSError`` if the peer is gone.

        ``compress=False`` (or False for a frame) sends it uncompressed even in a deflate
        session; True compresses it when it reaches the threshold."""

    def try_send(self, frames: list[str | bytes], compress: bool = True) -> bool:
        """Write without waiting if possible; False means queue ``frames`` for the writer."""

    def try_send_encoded(self, data: bytes, owner: BacklogListener) -> bool:
        """:meth:`try_send` of frames already encoded (uncompressed, as
        :func:`~sockio_wsgi.protocol.wsframes.encode_data_frame` builds them), which may
        wait until the running greenlet yields, to go out with what follows them;
        ``owner.on_backlog()`` is called if the kernel then leaves bytes for the writer."""

    @property
    def compresses(self) -> bool:
        """True when permessage-deflate was negotiated (per-frame flags then matter)."""

    @property
    def has_pending(self) -> bool:
        """True when :meth:`try_send` left bytes for the writer to finish."""

    def close(self, code: int = CLOSE_NORMAL, reason: str = "") -> None:
        """Send a close frame (once) and release the connection."""

    def abort(self) -> None:
        """Release the connection at once, without a close frame (the peer does not read):
        never blocks, and a write waiting for the peer fails."""

    @property
    def kept(self) -> bool:
        """True when the connection outlives the request that upgraded it: the greenlet
        that accepted it may end, and :meth:`close` closes the socket."""

    @property
    def waiting(self) -> bool:
        """True while a :meth:`receive` is parked waiting for bytes."""

    @property
    def buffered(self) -> bool:
        """True when whole messages already read off the socket wait for :meth:`receive`
        (a readiness watcher would not see them)."""

    def active_since_last_check(self) -> bool:
        """True when bytes arrived since the previous call (read by the idle sweep)."""

    def when_readable(self, listener: ReadableListener) -> None:
        """Call ``listener.on_readable()`` from the hub once bytes (or EOF) arrive; kept
        sockets only. An object rather than a callback: a sleeping connection then holds no
        bound method for it."""


class ReadableListener(Protocol):
    def on_readable(self) -> None: ...


class BacklogListener(Protocol):
    def on_backlog(self) -> None: ...


class UpgradeRefused(Exception):
    """The request is not a valid WebSocket upgrade; answer it with HTTP 400."""


def can_upgrade(environ: dict[str, Any]) -> bool:
    """True when this server can take over the socket (ours or gevent-websocket's)."""
    return GEVENT_WEBSOCKET_KEY in environ or RAW_SOCKET_KEY in environ


def accept(
    environ: dict[str, Any],
    *,
    max_message_size: int,
    compression: bool = False,
    compression_threshold: int = DEFAULT_COMPRESSION_THRESHOLD,
    send_timeout: float | None = None,
) -> WebSocket:
    """Complete the upgrade of this request and return the connection.

    ``send_timeout``: seconds a write may wait for the peer to take any byte before the
    connection is cut (our WebSocket only; ``None`` keeps the default).
    Raises :class:`UpgradeRefused` when the handshake headers are invalid.
    """
    existing = environ.get(GEVENT_WEBSOCKET_KEY)
    if existing is not None:
        return _implementations()[0](existing, max_message_size)
    sock = environ[RAW_SOCKET_KEY]
    ws = _implementations()[1].accept(
        environ, sock, max_message_size, compression, compression_threshold
    )
    if send_timeout is not None and send_timeout != ws.send_timeout:
        ws.send_timeout = send_timeout
    return ws


_kinds: list[Any] = []


def _implementations() -> tuple[type[GeventWebSocketConnection], type[WsprotoWebSocket]]:
    """gevent-websocket's adapter and our wsproto connection, imported on first use (they
    import this module's names) and kept: an import statement costs on every call."""
    if not _kinds:
        from sockio_wsgi.engine import gevent_connection, wsproto_connection

        _kinds[:] = [
            gevent_connection.GeventWebSocketConnection,
            wsproto_connection.WsprotoWebSocket,
        ]
    return _kinds[0], _kinds[1]
