"""ruff and mypy run inside the one test command, with the repository's own configuration.

Both read pyproject.toml: ruff checks the whole tree, mypy (strict) checks ``files``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run_tool(*args: str, timeout: float) -> None:
    try:
        result = subprocess.run(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{' '.join(args)} took over {timeout:.0f}s: {exc.output!r}", pytrace=False)
    if result.returncode != 0:
        pytest.fail(
            f"`{' '.join(args)}` exited {result.returncode}\n{result.stdout}\n{result.stderr}",
            pytrace=False,
        )


@pytest.mark.timeout(120)
def test_ruff() -> None:
    run_tool("ruff", "check", ".", timeout=100)


@pytest.mark.timeout(600)
def test_mypy() -> None:
    # A cold mypy run over gevent-heavy code takes a while on 2 cores.
    run_tool("mypy", timeout=580)
