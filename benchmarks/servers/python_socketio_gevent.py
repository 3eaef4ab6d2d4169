"""Reference server: python-socketio 5.x on gevent pywsgi + gevent-websocket.

This is the deployment python-socketio documents for gevent: ``socketio.Server
(async_mode="gevent")`` wrapped in ``socketio.WSGIApp`` and served by
``gevent.pywsgi.WSGIServer`` with ``geventwebsocket.handler.WebSocketHandler``.

Handlers for every scenario: "echo" acks its argument (text or binary), "bcast"
emits its argument to every connected client.

Usage: python python_socketio_gevent.py --port 5000
Prints ``READY <port>`` on stdout once the socket is listening.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import sys  # noqa: E402

import socketio  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    sio = socketio.Server(async_mode="gevent", ping_interval=25, ping_timeout=20)

    @sio.on("echo")
    def echo(sid, data):
        return data  # the return value is the ack (text, or bytes as a binary attachment)

    @sio.on("bcast")
    def bcast(sid, data):
        sio.emit("bcast", data)  # to every client on "/", the sender included

    app = socketio.WSGIApp(sio)
    server = pywsgi.WSGIServer(
        (args.host, args.port), app, handler_class=WebSocketHandler, log=None
    )
    server.start()
    print(f"READY {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
