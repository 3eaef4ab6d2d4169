"""Session and socket ids: random, URL-safe, 20 characters, never shared with a fork."""

from __future__ import annotations

import base64
import re
import subprocess
import sys

from sockio_wsgi.protocol.ids import BATCH, new_id


def test_ids_are_20_url_safe_characters_of_15_random_bytes() -> None:
    ids = [new_id() for _ in range(BATCH * 5 + 3)]  # across several batches
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{20}", i) for i in ids)
    assert all(len(base64.urlsafe_b64decode(i)) == 15 for i in ids)
    assert len(set(ids)) == len(ids)


FORK_CHECK = """
import os
from sockio_wsgi.protocol.ids import BATCH, new_id

new_id()  # the parent holds a batch now
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(write_end, "".join(new_id() for _ in range(BATCH)).encode())
    os._exit(0)
os.close(write_end)
text = b""
while chunk := os.read(read_end, 65536):
    text += chunk
os.waitpid(pid, 0)
child = {text.decode()[i : i + 20] for i in range(0, len(text), 20)}
parent = {new_id() for _ in range(BATCH)}
print(len(child), len(child & parent))
"""


def test_a_forked_child_does_not_hand_out_the_parents_ids() -> None:
    """As gunicorn forks its workers from a parent that may have made ids already (in a
    plain process: the test process runs under gevent's monkey patching)."""
    result = subprocess.run(
        [sys.executable, "-c", FORK_CHECK], capture_output=True, text=True, timeout=30
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(BATCH), "0"]
