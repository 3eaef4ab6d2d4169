"""The soak test's server: sockio_wsgi with small limits, a steady broadcast and a stats route.

``GET /soak-stats`` answers JSON about this process (RSS, open file descriptors, live
greenlets, Engine.IO sessions) and what the server saw (connects, disconnect reasons,
broadcasts, warnings logged, greenlet errors), so the harness can tell whether the
server returns to its baseline once the misbehaving clients are gone.

Events: ``echo`` acks its argument; ``flood`` (size, count) emits ``count`` events of
``size`` bytes to the caller at once, so that a client that does not read overflows
``max_queued_bytes``. A background greenlet emits ``tick`` to every client on "/" every
``--broadcast-interval`` seconds; the namespace ``/quiet`` gets none.

Usage: python sockio_soak.py [--port 0] [--ping-interval 2] ...
Prints ``READY <port>`` on stdout once the socket is listening.
"""

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import contextlib  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from collections import Counter  # noqa: E402
from collections.abc import Callable, Iterable  # noqa: E402
from typing import Any  # noqa: E402

import gevent  # noqa: E402
import greenlet  # noqa: E402

# Run from a checkout without installing: the repository root and benchmarks/ on the path.
BENCHMARKS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.dirname(BENCHMARKS), BENCHMARKS]

from soak_params import QUIET_NAMESPACE, add_server_options  # noqa: E402

import sockio_wsgi  # noqa: E402

STATS_PATH = "/soak-stats"


class CountingHandler(logging.Handler):
    """Counts log records of INFO and above by logger and message template (plus any
    exception argument): they say which limit cut a client, e.g. ``max_queued_bytes``
    or a write that timed out (``send_timeout``)."""

    MAX_KEYS = 200  # distinct keys kept; the rest are counted together

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.counts: Counter[str] = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        args = record.args if isinstance(record.args, tuple) else ()
        errors = "".join(
            f" [{type(a).__name__}: {str(a)[:60]}]" for a in args if isinstance(a, BaseException)
        )
        key = f"{record.levelname} {record.name}: {record.msg}{errors}"
        if key not in self.counts and len(self.counts) >= self.MAX_KEYS:
            key = "(other messages)"
        self.counts[key] += 1


def vm_rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def live_greenlets() -> int:
    """Greenlets not yet dead, after a full collection (so garbage is not counted)."""
    gc.collect()
    return sum(1 for o in gc.get_objects() if isinstance(o, greenlet.greenlet) and not o.dead)


def count_greenlet_errors(counter: Counter[str]) -> None:
    """Count the exceptions that end greenlets (gevent prints them and goes on)."""
    hub = gevent.get_hub()
    original = hub.handle_error

    def handle_error(context: Any, kind: Any, value: Any, tb: Any) -> None:
        counter[f"{getattr(kind, '__name__', kind)}: {value}"[:200]] += 1
        original(context, kind, value, tb)

    hub.handle_error = handle_error


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    add_server_options(parser)
    args = parser.parse_args()
    if args.host != "127.0.0.1":
        raise SystemExit("the soak server listens on 127.0.0.1 only")

    # warnings and errors go to stderr; every record from INFO up is counted
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    for handler in logging.getLogger().handlers:
        handler.setLevel(logging.WARNING)
    logged = CountingHandler()
    logging.getLogger().addHandler(logged)
    greenlet_errors: Counter[str] = Counter()
    count_greenlet_errors(greenlet_errors)

    sio = sockio_wsgi.Server(
        ping_interval=args.ping_interval,
        ping_timeout=args.ping_timeout,
        max_queued_bytes=args.max_queued_bytes,
        send_timeout=args.send_timeout,
    )
    events: Counter[str] = Counter()
    reasons: Counter[str] = Counter()

    def connect(socket: sockio_wsgi.Socket, auth: Any) -> None:
        events["connects"] += 1

    def disconnect(socket: sockio_wsgi.Socket, reason: str) -> None:
        reasons[reason] += 1

    # QUIET_NAMESPACE gets no ticks, so that a waiting poll there really waits (for a ping)
    for namespace in ("/", QUIET_NAMESPACE):
        sio.on("connect", connect, namespace=namespace)
        sio.on("disconnect", disconnect, namespace=namespace)

    @sio.on("echo")
    def echo(socket: sockio_wsgi.Socket, data: Any) -> Any:
        events["echoes"] += 1
        return data

    @sio.on("flood")
    def flood(socket: sockio_wsgi.Socket, size: int, count: int) -> None:
        events["floods"] += 1
        chunk = "f" * min(int(size), 1_000_000)
        for _ in range(min(int(count), 100)):
            socket.emit("flood", chunk)

    def broadcaster() -> None:
        pad = "x" * args.payload
        n = 0
        while True:
            gevent.sleep(args.broadcast_interval)
            n += 1
            sio.emit("tick", {"n": n, "t": time.time(), "pad": pad})
            events["broadcasts"] += 1

    def stats_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != STATS_PATH:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        stats = {
            "time": time.time(),
            "rss_kib": vm_rss_kib(),
            "fds": len(os.listdir("/proc/self/fd")),
            "greenlets": live_greenlets(),
            "sessions": len(sio.eio.sockets),
            "sio_clients": len(sio.clients),
            "events": dict(events),
            "disconnect_reasons": dict(reasons),
            "log_records": dict(logged.counts),
            "greenlet_errors": dict(greenlet_errors),
        }
        body = json.dumps(stats).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    app = sockio_wsgi.WSGIApp(sio, stats_app)
    server = sockio_wsgi.make_server(app, host=args.host, port=args.port)
    server.start()
    gevent.spawn(broadcaster)
    print(f"READY {server.server_port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()
