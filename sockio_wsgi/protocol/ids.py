"""Session and socket ids: 15 random bytes each (120 bits), URL-safe base64.

Drawn from the OS in batches: a connection needs two ids (the Engine.IO session's and the
Socket.IO socket's), and one ``os.urandom`` call per id cost a system call each. The batch
is dropped in a forked child, so that two worker processes never hand out the same ids.
"""

from __future__ import annotations

import base64
import os

ID_BYTES = 15  # a multiple of 3: each id is exactly 20 base64 characters, with no padding
ID_LENGTH = ID_BYTES * 4 // 3
BATCH = 64

_ready: list[str] = []


def new_id() -> str:
    """A fresh random id (``secrets.token_urlsafe(15)``'s alphabet and length)."""
    try:
        return _ready.pop()  # atomic: threads never share one
    except IndexError:
        text = base64.urlsafe_b64encode(os.urandom(ID_BYTES * BATCH)).decode("ascii")
        _ready.extend(text[i : i + ID_LENGTH] for i in range(0, len(text), ID_LENGTH))
        return _ready.pop()


os.register_at_fork(after_in_child=_ready.clear)
