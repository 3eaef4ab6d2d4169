"""A plain WSGI app with live events: an echo page and a broadcast, on sockio-wsgi.

    python examples/echo_server.py [--host 127.0.0.1] [--port 5000]

Open http://127.0.0.1:5000/ in two tabs: "echo" comes back to the sender through the
acknowledgement, "shout" reaches every other tab.
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from browser_client import client_script, install_client  # noqa: E402

import sockio_wsgi  # noqa: E402

PAGE = (Path(__file__).resolve().parent / "static" / "echo.html").read_bytes()

sio = sockio_wsgi.Server()


@sio.on("connect")
def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
    socket.emit("welcome", {"id": socket.id, "online": len(sio.of("/").sockets)})


@sio.on("echo")
def echo(socket: sockio_wsgi.Socket, text: str) -> str:
    return text  # the return value is the acknowledgement


@sio.on("shout")
def shout(socket: sockio_wsgi.Socket, text: str) -> None:
    socket.broadcast.emit("shout", {"from": socket.id, "text": text})


def site(environ: dict[str, Any], start_response: Any) -> list[bytes]:
    """The rest of the application: an ordinary WSGI callable."""
    path = environ.get("PATH_INFO", "/")
    if path == "/":
        body, kind = PAGE, "text/html; charset=utf-8"
    elif path == "/socket.io.min.js":
        body, kind = client_script(), "application/javascript"
    else:
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", kind), ("Content-Length", str(len(body)))])
    return [body]


app = sockio_wsgi.WSGIApp(sio, site)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_client()  # the browser client, before the first page load
    server = sockio_wsgi.make_server(app, args.host, args.port)
    server.start()
    print(f"listening on http://{args.host}:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        sio.close()
        server.stop(timeout=2)


if __name__ == "__main__":
    main()
