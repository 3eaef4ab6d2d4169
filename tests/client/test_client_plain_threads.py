"""The client on real threads: a plain (not gevent-patched) Python process runs
tests/client/scripts/plain_client.py against our server in a third process."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.helpers.processes import ROOT, python_script, started


def test_plain_threaded_program() -> None:
    with started(python_script("tests/client/scripts/server.py", "0"), r"listening (\d+)") as (
        _,
        match,
    ):
        url = f"http://127.0.0.1:{match.group(1)}"
        result = subprocess.run(
            [sys.executable, str(ROOT / "tests/client/scripts/plain_client.py"), url],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.splitlines()[-1] == "OK", result.stdout + result.stderr
