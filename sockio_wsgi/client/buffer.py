"""Outgoing emits that wait: the offline buffer and the at-least-once retry queue.

Both are FIFO and bounded by ``max_buffer``. When full, adding raises
:class:`BufferFullError` (nothing already queued is dropped): the caller learns at once
that the message was not accepted, which dropping the oldest silently would hide.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sockio_wsgi.exceptions import SocketIOError

T = TypeVar("T")


class BufferFullError(SocketIOError):
    """An emit could not be queued because ``max_buffer`` emits are already waiting."""


@dataclass(eq=False)
class Emit:
    """One emit as the user made it; a retry re-sends this same object with a new ack id.

    ``on_reply(args)`` / ``on_fail(exc)`` report the outcome of an emit that wants one.
    """

    namespace: str
    event: str
    args: list[Any]
    on_reply: Callable[[list[Any]], None] | None = None
    on_fail: Callable[[BaseException], None] | None = None
    volatile: bool = False
    tries: int = 0
    pending: bool = False
    cancelled: bool = False
    queued: bool = False
    ack_id: int | None = None
    timer: Any = field(default=None, repr=False)

    @property
    def wants_ack(self) -> bool:
        return self.on_reply is not None


class BoundedQueue(Generic[T]):
    """A FIFO that refuses new items once it holds ``limit`` (``None``: unbounded)."""

    def __init__(self, limit: int | None) -> None:
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0 or None")
        self.limit = limit
        self._items: deque[T] = deque()

    def append(self, item: T) -> None:
        if self.limit is not None and len(self._items) >= self.limit:
            raise BufferFullError(f"{self.limit} emits are already waiting (max_buffer)")
        self._items.append(item)

    def popleft(self) -> T:
        return self._items.popleft()

    def peek(self) -> T | None:
        return self._items[0] if self._items else None

    def remove(self, item: T) -> None:
        if item in self._items:
            self._items.remove(item)

    def drain(self) -> list[T]:
        """Take every item, oldest first."""
        items = list(self._items)
        self._items.clear()
        return items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))
