"""Connection state recovery for one process: recent packets and disconnected sessions.

Pure bookkeeping with time as a parameter (``now``, in seconds of any monotonic clock),
so the rules are unit-tested without a server. The in-memory adapter owns one
:class:`RecoveryStore` per namespace; a cluster adapter keeps the same data elsewhere
(a Redis Stream whose entry ids are the offsets) behind the same adapter methods.

Memory is bounded twice: a packet older than ``max_disconnection_duration`` can never
be needed (no session that old survives) and is dropped, and at most ``max_packets``
packets are kept (a client whose offset fell off the end is simply not recovered).
Sessions expire after ``max_disconnection_duration``. Both are trimmed when packets are
appended and sessions persisted or restored, with no timer.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any

from sockio_wsgi.adapters.base import (
    BroadcastOptions,
    RecoveryOptions,
    RestoredSession,
    Room,
    SessionRecord,
)
from sockio_wsgi.protocol.ids import new_id


@dataclass(frozen=True, slots=True)
class _Entry:
    seq: int
    emitted_at: float
    data: list[Any]  # [event, *args, offset]
    rooms: frozenset[Room]
    except_rooms: frozenset[Room]


def reaches(
    session_rooms: frozenset[Room], rooms: frozenset[Room], except_rooms: frozenset[Room]
) -> bool:
    """Whether a broadcast to ``rooms`` minus ``except_rooms`` reached a socket in
    ``session_rooms`` (empty ``rooms``: everyone)."""
    included = not rooms or not rooms.isdisjoint(session_rooms)
    return included and except_rooms.isdisjoint(session_rooms)


class PacketLog:
    """Recoverable packets in emission order, each with its offset.

    An offset is ``"<log id>:<sequence>"``: the log id is random, so an offset from
    another process (or an earlier run) never matches, and the sequence gives the
    position in the log without a search.
    """

    def __init__(self, max_age: float, max_packets: int) -> None:
        self.max_age = max_age
        self.max_packets = max_packets
        self.log_id = new_id()[:8]
        self._entries: deque[_Entry] = deque()
        self._next_seq = 0

    def __len__(self) -> int:
        return len(self._entries)

    def append(self, data: list[Any], opts: BroadcastOptions, now: float) -> list[Any]:
        """Record a packet's ``[event, *args]``; return it with its offset appended."""
        seq = self._next_seq
        self._next_seq += 1
        with_offset = [*data, f"{self.log_id}:{seq}"]
        self._entries.append(_Entry(seq, now, with_offset, opts.rooms, opts.except_rooms))
        self.trim(now)
        return with_offset

    def trim(self, now: float) -> None:
        """Drop packets past the count cap or older than ``max_age``."""
        entries = self._entries
        while len(entries) > self.max_packets:
            entries.popleft()
        threshold = now - self.max_age
        while entries and entries[0].emitted_at < threshold:
            entries.popleft()

    def _sequence(self, offset: str) -> int | None:
        log_id, _, seq = offset.partition(":")
        if log_id != self.log_id or not seq.isdigit():
            return None
        return int(seq)

    def missed(self, offset: str, rooms: frozenset[Room], now: float) -> list[list[Any]] | None:
        """The packets after ``offset`` that reached ``rooms``, in order; ``None`` when
        the offset is not this log's or packets after it were already dropped."""
        self.trim(now)
        seq = self._sequence(offset)
        if seq is None or seq >= self._next_seq:
            return None
        first = self._entries[0].seq if self._entries else self._next_seq
        if seq + 1 < first:
            return None  # something after the offset is gone: the gap cannot be filled
        start = seq + 1 - first
        return [
            entry.data
            for index, entry in enumerate(self._entries)
            if index >= start and reaches(rooms, entry.rooms, entry.except_rooms)
        ]


class SessionStore:
    """Sessions of sockets that lost their connection, by private id, until they expire.

    Sessions are kept in disconnection order, so expiry pops from the front. A restored
    session is removed: one private id recovers at most one socket.
    """

    def __init__(self, max_age: float) -> None:
        self.max_age = max_age
        self._sessions: OrderedDict[str, tuple[float, SessionRecord]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def persist(self, session: SessionRecord, now: float) -> None:
        self.expire(now)
        self._sessions.pop(session.pid, None)
        self._sessions[session.pid] = (now, session)

    def claim(self, pid: str, now: float) -> SessionRecord | None:
        self.expire(now)
        found = self._sessions.pop(pid, None)
        return found[1] if found is not None else None

    def expire(self, now: float) -> None:
        threshold = now - self.max_age
        sessions = self._sessions
        while sessions:
            pid, (disconnected_at, _) = next(iter(sessions.items()))
            if disconnected_at >= threshold:
                break
            del sessions[pid]


class RecoveryStore:
    """A namespace's packet log and session store, answering the adapter's questions."""

    def __init__(self, options: RecoveryOptions) -> None:
        self.options = options
        self.packets = PacketLog(options.max_disconnection_duration, options.max_packets)
        self.sessions = SessionStore(options.max_disconnection_duration)

    def record(self, data: list[Any], opts: BroadcastOptions, now: float) -> list[Any] | None:
        """``data`` with its offset if the broadcast is recoverable (not volatile), else
        ``None``."""
        if opts.volatile:
            return None
        return self.packets.append(data, opts, now)

    def persist(self, session: SessionRecord, now: float) -> None:
        self.sessions.persist(session, now)
        self.packets.trim(now)

    def restore(self, pid: str, offset: str, now: float) -> RestoredSession | None:
        """Claim the session and collect what it missed; ``None`` if either is gone.

        A session whose offset is too old is consumed all the same: it cannot be
        recovered later either."""
        session = self.sessions.claim(pid, now)
        if session is None:
            return None
        missed = self.packets.missed(offset, session.rooms, now)
        if missed is None:
            return None
        return RestoredSession(session, missed)
