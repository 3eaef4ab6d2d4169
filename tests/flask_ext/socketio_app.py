"""A chat app written as Flask-SocketIO's users write one, importing from ``flask_ext``.

test_flask_socketio_compat.py runs the same tests against this module as it is and against
its source with ``flask_ext`` replaced by ``flask_socketio`` (the one change a port makes),
so both packages are held to the same behaviour.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, request, session

from flask_ext import (
    ConnectionRefusedError,
    Namespace,
    SocketIO,
    close_room,
    disconnect,
    emit,
    join_room,
    leave_room,
    rooms,
    send,
)

app = Flask(__name__)
app.config["SECRET_KEY"] = "not so secret"
socketio = SocketIO(app, namespaces="*")  # clients may connect to any namespace

disconnected: list[str] = []
tasks: list[Any] = []


@app.route("/login/<name>")
def login(name: str) -> str:
    session["user"] = name
    return "ok"


@app.route("/notify")
def notify() -> str:
    socketio.emit("notice", {"from": "http"})
    return "sent"


@socketio.on("connect")
def on_connect(auth: Any) -> None:
    if auth == {"token": "bad"}:
        raise ConnectionRefusedError("unauthorized")
    emit(
        "welcome",
        {
            "user": session.get("user"),
            "args": request.args.to_dict(),
            "header": request.headers.get("X-Client"),
            "auth": auth,
        },
    )


@socketio.on("disconnect")
def on_disconnect() -> None:
    disconnected.append(request.sid)


@socketio.on("echo")
def echo(*args: Any) -> Any:
    emit("echo", args)  # a tuple: several arguments
    return args


@socketio.on("whoami")
def whoami() -> str:
    return request.sid


@socketio.on("shapes")
def shapes() -> None:
    socketio.emit("pair", (1, [2]), to=request.sid)
    socketio.emit("one", ([1, 2],), to=request.sid)
    emit("nothing", None)
    emit("null", (None,))
    socketio.send(("first", "second"), to=request.sid)


@socketio.on("message")
def on_message(data: Any) -> None:
    send(data)


@socketio.on("json")
def on_json(data: Any) -> None:
    send(data, json=True)


@socketio.on("remember")
def remember(value: Any) -> None:
    session["value"] = value


@socketio.on("recall")
def recall() -> Any:
    return session.get("value"), session.get("user")


@socketio.on("join")
def on_join(room: str) -> list[str]:
    join_room(room)
    emit("joined", room, to=room)
    return sorted(rooms())


@socketio.on("leave")
def on_leave(room: str) -> list[str]:
    leave_room(room)
    return sorted(rooms())


@socketio.on("close")
def on_close(room: str) -> None:
    close_room(room)


@socketio.on("say")
def say(room: str, text: str) -> None:
    emit("said", (request.sid, text), to=room, include_self=False)


@socketio.on("shout")
def shout(text: str) -> None:
    emit("shouted", text, broadcast=True)


@socketio.on("unencodable")
def unencodable() -> None:
    emit("never", object())


@socketio.on("unencodable_to_nobody")
def unencodable_to_nobody() -> str:
    try:
        socketio.emit("never", {1, 2}, to="an empty room")
    except TypeError:
        return "TypeError"
    return "sent"


@socketio.on("leave_me")
def leave_me() -> None:
    disconnect()


@socketio.on("*")
def catch_all(event: str, data: Any) -> str:
    emit("caught", (event, data))
    return "caught " + event


@socketio.on("start_task")
def start_task() -> None:
    tasks.append(socketio.start_background_task(background_task, request.sid))


def background_task(sid: str) -> None:
    socketio.sleep(0)
    socketio.emit("task_done", {"for": sid}, to=sid)


@socketio.on_error_default
def on_error(exc: Exception) -> dict[str, str]:
    return {"error": type(exc).__name__}


@socketio.on("where", namespace="*")
def where() -> str:
    return request.namespace


class Chat(Namespace):
    def on_connect(self) -> None:
        self.emit("hello", ("chat", request.sid), room=request.sid)

    def on_greet(self, name: str) -> str:
        self.emit("greeted", (name, "welcome"), room=request.sid)
        return "hi " + name


socketio.on_namespace(Chat("/chat"))


# a second app, without error handlers
bare_app = Flask("bare")
bare = SocketIO(bare_app)


@bare.on("boom")
def boom() -> None:
    raise LookupError("no error handler here")


@bare.on("fine")
def fine() -> str:
    return "fine"
