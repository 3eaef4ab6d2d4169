"""Our server: sockio_wsgi with its own gevent pywsgi server and WebSocket handler.

Handlers for every scenario: "echo" acks its argument (text or binary), "bcast"
emits its argument to every connected client.

Usage: python sockio_plain.py --port 5000
Prints ``READY <port>`` on stdout once the socket is listening.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402

# Run from a checkout without installing: put the repository root on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

import sockio_wsgi  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", help="cluster through this Redis (RedisAdapter)")
    parser.add_argument("--prefix", default="sockio-bench", help="Redis key prefix")
    args = parser.parse_args()

    adapter = None
    if args.redis:
        adapter = sockio_wsgi.RedisAdapter.factory(args.redis, key_prefix=args.prefix)
    sio = sockio_wsgi.Server(ping_interval=25, ping_timeout=20, adapter=adapter)

    @sio.on("echo")
    def echo(socket, data):
        return data  # the return value is the ack (text, or bytes as a binary attachment)

    @sio.on("bcast")
    def bcast(socket, data):
        sio.emit("bcast", data)  # to every client on "/", the sender included

    app = sockio_wsgi.WSGIApp(sio)
    server = sockio_wsgi.make_server(app, host=args.host, port=args.port)
    server.start()
    if adapter is not None:  # READY only once the bus receives the other servers
        sio.of("/").adapter.wait_health(True, 30)
    port = getattr(server, "server_port", None) or args.port
    print(f"READY {port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
