"""Say something to the whole chat fleet from a process that is not a server.

    python examples/fleet/announce.py "maintenance at noon" [--room lobby]

``SocketIO(message_queue=...)`` without an app is an emitter: it publishes through Redis in
the format every server of the fleet (Python or Node) listens to.
"""

from __future__ import annotations

import argparse
import os

from flask_ext import SocketIO


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("text")
    parser.add_argument("--room", help="one room only (default: everyone)")
    parser.add_argument("--redis", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379"))
    parser.add_argument("--channel", default="chat-fleet", help="Redis key prefix")
    args = parser.parse_args()
    socketio = SocketIO(message_queue=args.redis, channel=args.channel)
    socketio.emit("notice", f"announcement: {args.text}", to=args.room)
    print("sent", flush=True)


if __name__ == "__main__":
    main()
