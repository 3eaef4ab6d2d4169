"""Our server through the Flask extension: ``flask_ext.SocketIO`` (the
Flask-SocketIO-compatible API) on ``sockio_wsgi.make_server``.

Written against the Flask-SocketIO API: ``SocketIO(app)`` wraps ``app.wsgi_app``,
``@socketio.on`` handlers take the event's arguments and return the ack,
``socketio.emit`` with no room sends to every client on "/".

Handlers for every scenario: "echo" acks its argument (text or binary), "bcast"
emits its argument to every connected client.

Usage: python sockio_flask.py --port 5000
Prints ``READY <port>`` on stdout once the socket is listening. Exits with code 3
and a one-line message on stderr when ``flask_ext`` cannot be imported.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# Run from a checkout without installing: put the repository root on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from flask import Flask  # noqa: E402

import sockio_wsgi  # noqa: E402

try:
    from flask_ext import SocketIO  # noqa: E402
except ImportError as exc:
    print(f"flask_ext is not importable: {exc!r}", file=sys.stderr, flush=True)
    sys.exit(3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()

    app = Flask(__name__)
    socketio = SocketIO(app, ping_interval=25, ping_timeout=20)

    @socketio.on("echo")
    def echo(data):
        return data  # the return value is the ack

    @socketio.on("bcast")
    def bcast(data):
        socketio.emit("bcast", data)  # to every client on "/", the sender included

    # SocketIO(app) wrapped app.wsgi_app, so the Flask app serves /socket.io/.
    server = sockio_wsgi.make_server(app, host=args.host, port=args.port)
    server.start()
    print(f"READY {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
