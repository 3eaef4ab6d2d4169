"""The official Socket.IO browser client, for the example pages.

The examples serve ``socket.io.min.js`` from the npm package pinned in
``examples/package-lock.json``; the first run installs it with ``npm ci``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_JS = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"


def client_script() -> bytes:
    """The minified client, installing the pinned npm package when it is missing."""
    if not CLIENT_JS.is_file():
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm is needed once to install the Socket.IO browser client")
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
    return CLIENT_JS.read_bytes()
