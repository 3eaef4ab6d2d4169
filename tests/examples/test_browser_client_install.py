"""The chat example's first run: it installs the browser client with npm, and on a machine
without Node and npm it still starts and its page says how to get the client.

Each test runs a fresh copy of the examples folder (no node_modules) from a temporary
directory, as a new clone would be.
"""

from __future__ import annotations

import os
import shutil
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.browser import chromium_page, text_of, wait_until
from tests.helpers.processes import ROOT, started

EXAMPLE_FILES = ("browser_client.py", "package.json", "package-lock.json", "chat")


def fresh_examples(tmp_path: Path) -> Path:
    target = tmp_path / "examples"
    target.mkdir()
    for name in EXAMPLE_FILES:
        source = ROOT / "examples" / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, target / name)
    return target


def without_node() -> dict[str, str]:
    """This environment with a PATH that holds Python and nothing of Node's."""
    bin_dir = str(Path(sys.executable).parent)
    assert shutil.which("npm", path=bin_dir) is None, "npm next to python: cannot hide it"
    return {**os.environ, "PATH": bin_dir}


def fetch(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


@pytest.mark.browser
def test_without_npm_the_page_says_how_to_get_the_client(tmp_path: Path) -> None:
    examples = fresh_examples(tmp_path)
    argv = [sys.executable, str(examples / "chat" / "app.py"), "--port", "0"]
    output: list[str] = []
    with started(argv, r"listening on (http://\S+)", env=without_node(), output=output) as (
        _,
        match,
    ):
        url = match.group(1)
        kind, script = fetch(url + "/socket.io.min.js")
        assert kind.startswith("application/javascript")
        assert "client-missing" in script and "npm ci" in script
        assert "Socket.IO v4" not in script
        with chromium_page() as page:
            page.get(url + "/")
            wait_until(page, lambda p: "npm ci" in text_of(p, "client-missing"))
            assert "Node.js" in text_of(page, "client-missing")
            assert text_of(page, "status") == "no Socket.IO client (see above)"
    log = "".join(output)
    assert "npm not found" in log and "npm ci" in log
    assert "Traceback" not in log
    assert not (examples / "node_modules").exists()


@pytest.mark.node
def test_the_first_run_installs_the_client_with_npm(tmp_path: Path) -> None:
    examples = fresh_examples(tmp_path)
    argv = [sys.executable, str(examples / "chat" / "app.py"), "--port", "0"]
    with started(argv, r"listening on (http://\S+)", timeout=300) as (_, match):
        kind, script = fetch(match.group(1) + "/socket.io.min.js")
    assert kind.startswith("application/javascript")
    assert "Socket.IO v4" in script and "client-missing" not in script
    assert (examples / "node_modules" / "socket.io-client" / "package.json").is_file()
