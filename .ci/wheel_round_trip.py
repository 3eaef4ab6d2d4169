"""Run by .ci/run with the Python of a virtualenv that holds only the built wheel: start
examples/echo_server.py on that install and make a round trip with the installed client.

It runs from a directory outside the checkout, so nothing is imported from the sources.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import sockio_wsgi

ECHO = Path(sys.argv[1]).resolve()


def main() -> None:
    assert "site-packages" in sockio_wsgi.__file__, sockio_wsgi.__file__
    for package in ("sockio_wsgi", "flask_ext"):
        typed = Path(sockio_wsgi.__file__).parent.parent / package / "py.typed"
        assert typed.is_file(), f"{typed} is missing from the wheel"
    server = subprocess.Popen(
        [sys.executable, str(ECHO), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert server.stdout is not None
        deadline = time.monotonic() + 120
        url = None
        for line in server.stdout:
            print("[echo_server]", line, end="")
            found = re.search(r"listening on (http://\S+)", line)
            if found:
                url = found.group(1)
                break
            if time.monotonic() > deadline:
                break
        assert url, "the echo example did not start"
        with sockio_wsgi.SimpleClient() as client:
            client.connect(url)
            event = client.receive(timeout=10)
            assert event[0] == "welcome", event
            reply = client.call("echo", "hello from the wheel", timeout=10)
            assert reply == "hello from the wheel", reply
        print("wheel round trip: ok", flush=True)
    finally:
        server.terminate()
        server.wait(timeout=10)


if __name__ == "__main__":
    main()
