"""Start a program (an example, a server script) and wait for the line that says it is ready."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@contextmanager
def started(
    argv: Sequence[str],
    ready: str,
    timeout: float = 60.0,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    output: list[str] | None = None,
) -> Iterator[tuple[subprocess.Popen[str], re.Match[str]]]:
    """Run ``argv`` until the block ends; yield the process and the match of ``ready``
    (a regular expression) on its output. Output is echoed to this process's stderr (and
    collected in ``output`` when given); ``env`` replaces the environment."""
    pattern = re.compile(ready)
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**(os.environ if env is None else env), "PYTHONUNBUFFERED": "1"},
    )
    found: list[re.Match[str]] = []
    seen = threading.Event()
    lines: list[str] = output if output is not None else []

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            sys.stderr.write(f"[{Path(argv[1]).name if len(argv) > 1 else argv[0]}] {line}")
            if not found and (match := pattern.search(line)):
                found.append(match)
                seen.set()
        seen.set()

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        if not seen.wait(timeout) or not found:
            raise RuntimeError(
                f"{argv} did not print {ready!r} within {timeout}s (exit {proc.poll()}):\n"
                + "".join(lines[-40:])
            )
        yield proc, found[0]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        reader.join(timeout=5)


def python_script(path: str, *args: str) -> list[str]:
    return [sys.executable, str(ROOT / path), *args]
