"""Reference server: Flask-SocketIO 5.x with async_mode="gevent" + gevent-websocket.

The deployment Flask-SocketIO documents for gevent: ``SocketIO(app,
async_mode="gevent")``, served by gevent's pywsgi with
``geventwebsocket.handler.WebSocketHandler`` (what ``socketio.run`` does under
gevent when gevent-websocket is installed; built by hand here so that we can
print READY once the socket listens).

Handlers for every scenario: "echo" acks its argument (text or binary), "bcast"
emits its argument to every connected client.

Usage: python flask_socketio_gevent.py --port 5000
Prints ``READY <port>`` on stdout once the socket is listening.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import sys  # noqa: E402

from flask import Flask  # noqa: E402
from flask_socketio import SocketIO  # noqa: E402
from gevent import pywsgi  # noqa: E402
from geventwebsocket.handler import WebSocketHandler  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    app = Flask(__name__)
    socketio = SocketIO(app, async_mode="gevent", ping_interval=25, ping_timeout=20)

    @socketio.on("echo")
    def echo(data):
        return data  # the return value is the ack

    @socketio.on("bcast")
    def bcast(data):
        socketio.emit("bcast", data)  # to every client on "/", the sender included

    # SocketIO(app) wrapped app.wsgi_app, so the Flask app serves /socket.io/.
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
