"""A Flask chat on sockio-wsgi: nicknames, rooms, join and leave notices.

    python examples/chat/app.py [--host 127.0.0.1] [--port 5000]

Open http://127.0.0.1:5000/ in two tabs, pick a nickname and the same room in both, and
talk. The page uses the official Socket.IO browser client (examples/browser_client.py).
"""

from __future__ import annotations

from gevent import monkey

monkey.patch_all()

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from flask import Flask, Response, request, send_from_directory, session  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/browser_client.py
from browser_client import client_script, install_client  # noqa: E402

from flask_ext import SocketIO, emit, join_room, leave_room, rooms  # noqa: E402

HERE = Path(__file__).resolve().parent

socketio = SocketIO()  # the app factory pattern: the extension is bound in create_app()


def create_app() -> Flask:
    app = Flask(__name__, static_folder=None)
    app.secret_key = os.environ.get("CHAT_SECRET_KEY", "dev only: set CHAT_SECRET_KEY")

    @app.get("/")
    def index() -> Response:
        return send_from_directory(HERE / "static", "index.html")

    @app.get("/socket.io.min.js")
    def client_js() -> Response:
        return Response(client_script(), mimetype="application/javascript")

    # examples/fleet runs several of these on one Redis: SOCKETIO_MESSAGE_QUEUE=redis://...
    for key in ("SOCKETIO_MESSAGE_QUEUE", "SOCKETIO_CHANNEL"):
        if os.environ.get(key):
            app.config[key] = os.environ[key]
    socketio.init_app(app)
    return app


def _room() -> str | None:
    """The chat room of the current socket (it is in its own sid room too)."""
    named = [room for room in rooms() if room != request.sid]
    return named[0] if named else None


@socketio.on("join")
def on_join(data: dict[str, Any]) -> dict[str, Any]:
    """Take a nickname and a room; the others in the room hear of it."""
    nick = str(data.get("nick") or "anonymous")[:32]
    room = str(data.get("room") or "lobby")[:32]
    old = _room()
    if old is not None:
        leave_room(old)
        emit("notice", f"{session.get('nick')} left", to=old)
    session["nick"] = nick  # the socket's own copy of the session (manage_session=True)
    join_room(room)
    emit("notice", f"{nick} joined", to=room, include_self=False)
    return {"nick": nick, "room": room}


@socketio.on("say")
def on_say(text: str) -> None:
    room = _room()
    if room is None:
        emit("notice", "join a room first")
        return
    emit("chat", {"nick": session.get("nick"), "text": str(text)[:500]}, to=room)


@socketio.on("disconnect")
def on_disconnect(reason: str) -> None:
    room = _room()
    if room is not None:
        emit("notice", f"{session.get('nick')} left", to=room)


app = create_app()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_client()  # the browser client, before the first page load
    socketio.run(app, args.host, args.port)  # prints "listening on http://HOST:PORT"


if __name__ == "__main__":
    main()
