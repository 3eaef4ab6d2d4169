"""The chat example as a fleet: several gunicorn processes on one Redis act as one server.

    python examples/fleet/run.py [--workers 2] [--port 8001] [--redis redis://127.0.0.1:6379]

Starts one gunicorn master per port (8001, 8002, ...) with sockio-wsgi's gevent worker, each
serving examples/chat with ``SOCKETIO_MESSAGE_QUEUE`` set. Open http://127.0.0.1:8001/ and
http://127.0.0.1:8002/, join the same room in both: messages cross processes through Redis.
``python examples/fleet/announce.py "text"`` speaks to every room from outside. Behind one
address, put a load balancer with sticky sessions in front (README, "Under gunicorn").
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
from pathlib import Path

CHAT = Path(__file__).resolve().parent.parent / "chat"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="gunicorn masters (one per port)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001, help="port of the first one")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--channel", default="chat-fleet", help="Redis key prefix")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the masters on the way out
    env = {**os.environ, "SOCKETIO_MESSAGE_QUEUE": args.redis, "SOCKETIO_CHANNEL": args.channel}
    masters = []
    for index in range(args.workers):
        port = args.port + index
        masters.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "-k",
                    "sockio_wsgi.worker.SocketIOWorker",
                    "-w",
                    "1",
                    "-b",
                    f"{args.host}:{port}",
                    "--chdir",
                    str(CHAT),
                    "app:create_app()",
                ],
                env=env,
            )
        )
        print(f"listening on http://{args.host}:{port}", flush=True)
    try:
        for master in masters:
            master.wait()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        for master in masters:
            if master.poll() is None:
                master.send_signal(signal.SIGTERM)
        for master in masters:
            try:
                master.wait(timeout=30)
            except subprocess.TimeoutExpired:
                master.kill()


if __name__ == "__main__":
    main()
