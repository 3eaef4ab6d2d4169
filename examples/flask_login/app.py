"""An authenticated socket: log in with a form, and the socket's handlers see current_user.

    python examples/flask_login/app.py [--host 127.0.0.1] [--port 5000]

Open http://127.0.0.1:5000/ and log in as ada / lovelace (or grace / hopper). The
socket's connect handler reads the login session from the handshake's cookie through
Flask-Login; an anonymous connection is refused and the page shows the connect_error.
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

from flask import Flask, Response, redirect, render_template, request, url_for  # noqa: E402
from flask_login import (  # noqa: E402
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from werkzeug.wrappers import Response as BaseResponse  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # examples/browser_client.py
from browser_client import client_script, install_client  # noqa: E402

from flask_ext import ConnectionRefusedError, SocketIO, emit  # noqa: E402

PASSWORDS = {"ada": "lovelace", "grace": "hopper"}  # a demo: use a real user store


class User(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


app = Flask(__name__)
app.secret_key = os.environ.get("LOGIN_SECRET_KEY", "dev only: set LOGIN_SECRET_KEY")
login_manager = LoginManager(app)
login_manager.login_view = "login"
socketio = SocketIO(app)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return User(user_id) if user_id in PASSWORDS else None


@app.route("/login", methods=["GET", "POST"])
def login() -> str | BaseResponse:
    error = None
    if request.method == "POST":
        name = request.form.get("username", "")
        if PASSWORDS.get(name) == request.form.get("password"):
            login_user(User(name))
            return redirect(url_for("index"))
        error = "wrong username or password"
    return render_template("login.html", error=error)


@app.get("/logout")
def logout() -> BaseResponse:
    logout_user()
    return redirect(url_for("login"))


@app.get("/")
@login_required
def index() -> str:
    return render_template("index.html", user=current_user.id)


@app.get("/socket.io.min.js")
def client_js() -> Response:
    return Response(client_script(), mimetype="application/javascript")


@socketio.on("connect")
def on_connect(auth: Any) -> None:
    if not current_user.is_authenticated:
        raise ConnectionRefusedError("unauthorized", {"login": url_for("login")})
    emit("welcome", {"user": current_user.id})


@socketio.on("whoami")
def whoami() -> str:
    return str(current_user.id)  # the acknowledgement


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    install_client()
    socketio.run(app, args.host, args.port)


if __name__ == "__main__":
    main()
