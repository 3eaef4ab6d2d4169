"""Our Socket.IO server in its own process, for client tests that must not share one.

Prints ``listening PORT`` once bound. ``echo`` acks its args, ``hello`` makes the server
emit ``greeting`` back, ``drop`` ends the Engine.IO session (a lost connection).
"""

from gevent import monkey

monkey.patch_all()

import sys  # noqa: E402
from typing import Any  # noqa: E402

import sockio_wsgi  # noqa: E402

sio = sockio_wsgi.Server(ping_interval=1, ping_timeout=1)


@sio.on("echo")
def echo(socket: sockio_wsgi.Socket, *args: Any) -> Any:
    return args


@sio.on("hello")
def hello(socket: sockio_wsgi.Socket, name: str) -> None:
    socket.emit("greeting", f"hello {name}", b"\x00\x01")


@sio.on("drop")
def drop(socket: sockio_wsgi.Socket) -> None:
    sio.eio.disconnect(socket.client.sid)


server = sockio_wsgi.make_server(sockio_wsgi.WSGIApp(sio), "127.0.0.1", int(sys.argv[1]))
server.start()
print(f"listening {server.server_port}", flush=True)
server.serve_forever()  # ended by the test (SIGTERM)
