"""Connection state recovery, the server's half: options, when to keep, how to restore.

The adapter stores packets and sessions (see :mod:`sockio_wsgi.adapters.base`); this
module decides which disconnections leave a session behind (socket.io's list: lost
transports, timeouts and server-side closes, never a deliberate namespace disconnect)
and turns a client's ``{pid, offset}`` into a restored session.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sockio_wsgi.adapters.base import Adapter, RecoveryOptions, RestoredSession, SessionRecord

log = logging.getLogger("sockio_wsgi.server")

RECOVERABLE_REASONS = frozenset(
    {
        "transport error",
        "transport close",
        "forced close",
        "ping timeout",
        "server shutting down",
        "forced server close",
    }
)

RecoverySetting = bool | Mapping[str, Any] | RecoveryOptions | None

# our snake_case keys in seconds; socket.io's camelCase ones (maxDisconnectionDuration in
# milliseconds, as in Node) are accepted so that options can be copied from a Node server
_SECONDS = {"max_disconnection_duration": 1.0, "maxDisconnectionDuration": 0.001}
_FLAGS = {"skip_middlewares": "skip_middlewares", "skipMiddlewares": "skip_middlewares"}
_COUNTS = {"max_packets": "max_packets", "maxPackets": "max_packets"}


def resolve_options(setting: RecoverySetting) -> RecoveryOptions | None:
    """``None``/``False``: off; ``True``: defaults; a mapping of socket.io's options."""
    if setting is None or setting is False:
        return None
    if setting is True:
        return RecoveryOptions()
    if isinstance(setting, RecoveryOptions):
        return setting
    values: dict[str, Any] = {}
    for key, value in setting.items():
        if key in _SECONDS:
            values["max_disconnection_duration"] = float(value) * _SECONDS[key]
        elif key in _FLAGS:
            values[_FLAGS[key]] = bool(value)
        elif key in _COUNTS:
            values[_COUNTS[key]] = int(value)
        else:
            raise ValueError(f"unknown connection_state_recovery option {key!r}")
    options = RecoveryOptions(**values)
    if options.max_disconnection_duration <= 0 or options.max_packets < 1:
        raise ValueError("connection_state_recovery needs a positive duration and max_packets")
    return options


def restore(adapter: Adapter, nsp: str, auth: Any) -> RestoredSession | None:
    """The session a CONNECT's auth ``{pid, offset}`` asks back, if the adapter has it.

    Like socket.io, both must be strings: a client that has received no recoverable
    packet yet has no offset and gets a new session."""
    if not isinstance(auth, dict):
        return None
    pid, offset = auth.get("pid"), auth.get("offset")
    if not isinstance(pid, str) or not isinstance(offset, str):
        return None
    try:
        restored = adapter.restore_session(pid, offset)
    except Exception:
        log.exception("restoring a session on %s failed", nsp)
        return None
    if restored is None:
        log.debug("no session to recover on %s for the offered private id", nsp)
    else:
        log.debug(
            "socket %s recovered on %s, %d missed packets",
            restored.session.sid,
            nsp,
            len(restored.missed),
        )
    return restored


def persist(adapter: Adapter, session: SessionRecord, nsp: str) -> None:
    """Hand a disconnected socket's session to the adapter; a failure is only logged."""
    try:
        adapter.persist_session(session)
    except Exception:
        log.exception("keeping the session of socket %s on %s failed", session.sid, nsp)
