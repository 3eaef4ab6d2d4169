"""The official Socket.IO browser client, for the example pages.

The examples serve ``socket.io.min.js`` from the npm package pinned in
``examples/package-lock.json``; the first run installs it with ``npm ci``. Without npm (or
when the install fails) the examples still start: they log how to get the client, and the
script they serve in its place shows the same advice on the page.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from pathlib import Path

HERE = Path(__file__).resolve().parent
CLIENT_JS = HERE / "node_modules" / "socket.io-client" / "dist" / "socket.io.min.js"

log = logging.getLogger("examples")

HOW_TO_GET_IT = (
    "The Socket.IO browser client is not installed, so this page cannot connect. "
    "Install Node.js and npm (https://nodejs.org/), then run `npm ci` in the examples "
    "folder, or restart the example, which runs it for you."
)

# served instead of the client: the advice, visibly, at the top of the page
MISSING_CLIENT_JS = """(function () {
  var text = TEXT;
  var note = document.createElement("p");
  note.id = "client-missing";
  note.setAttribute("role", "alert");
  note.style.cssText = "background:#fee;border:1px solid #c00;padding:.6em;font:1em sans-serif";
  note.textContent = text;
  var show = function () {
    document.body.insertBefore(note, document.body.firstChild);
    var status = document.getElementById("status");
    if (status) { status.textContent = "no Socket.IO client (see above)"; }
  };
  if (document.body) { show(); } else { document.addEventListener("DOMContentLoaded", show); }
  window.io = function () { throw new Error(text); };
})();
""".replace("TEXT", json.dumps(HOW_TO_GET_IT))


def install_client() -> bool:
    """Install the pinned client with npm unless it is there; False (and a log line
    saying what to do) when that is not possible."""
    if CLIENT_JS.is_file():
        return True
    npm = shutil.which("npm")
    if npm is None:
        log.warning("npm not found. %s", HOW_TO_GET_IT)
        return False
    log.info("installing the Socket.IO browser client (npm ci in %s)", HERE)
    try:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            check=True,
            stdin=subprocess.DEVNULL,
            timeout=600,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.warning("npm ci failed (%s). %s", exc, HOW_TO_GET_IT)
        return False
    return CLIENT_JS.is_file()


def client_script() -> bytes:
    """The minified client, or a script that tells the page how to get it."""
    if CLIENT_JS.is_file():
        return CLIENT_JS.read_bytes()
    return MISSING_CLIENT_JS.encode("utf-8")
