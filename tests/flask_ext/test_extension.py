"""The SocketIO extension: app factory, config keys, decorators, errors, refusals, run/stop.

Everything goes through ``socketio.test_client``, which speaks real Engine.IO long-polling
to the app's WSGI callable, so handlers run exactly as they do behind a real server.
"""

from __future__ import annotations

import logging
import urllib.request
from typing import Any

import pytest
from flask import Flask, current_app, g, request

import sockio_wsgi
from flask_ext import ConnectionRefusedError, Namespace, SocketIO, emit, send
from tests.helpers.processes import started


def make_app(name: str = "app", **config: Any) -> Flask:
    app = Flask(name)
    app.secret_key = "test secret"
    app.config.update(config)
    return app


def test_factory_pattern_two_apps_and_decorators_before_init_app() -> None:
    socketio = SocketIO()

    @socketio.on("where")
    def where() -> str:
        g.seen = current_app.name  # g belongs to this event's app context
        emit("here", g.seen)
        return str(current_app.name)

    first, second = make_app("first"), make_app("second")
    socketio.init_app(first)
    socketio.init_app(second)
    assert "socketio" in first.extensions and first.extensions["socketio"] is socketio

    @socketio.event
    def late() -> str:  # registered after init_app: reaches both apps
        return "late " + current_app.name

    a = socketio.test_client(first)
    b = socketio.test_client(second)
    try:
        assert a.emit("where", callback=True) == "first"
        assert b.emit("where", callback=True) == "second"
        assert a.get_received() == [{"name": "here", "args": ["first"], "namespace": "/"}]
        assert b.emit("late", callback=True) == "late second"
        # each app has its own server: a broadcast in one does not reach the other
        with first.app_context():
            socketio.emit("news", 1)
        assert a.emit("where", callback=True) == "first"
        assert [m["name"] for m in a.get_received()] == ["news", "here"]
        assert [m["name"] for m in b.get_received()] == ["here"]
        assert socketio.state_for(first).server is not socketio.state_for(second).server
        with pytest.raises(RuntimeError, match="several apps"):
            socketio.emit("news", 2)  # no app context: which app is ambiguous
    finally:
        a.disconnect()
        b.disconnect()


def test_options_from_config_keys_and_arguments() -> None:
    app = make_app(
        SOCKETIO_PING_INTERVAL=7,
        SOCKETIO_PING_TIMEOUT=3,
        SOCKETIO_CORS_ALLOWED_ORIGINS=["https://example.com"],
        SOCKETIO_MANAGE_SESSION=False,
    )
    socketio = SocketIO(app, ping_timeout=4)  # an argument beats the config key
    state = socketio.state_for(app)
    assert state.server.eio.ping_interval == 7
    assert state.server.eio.ping_timeout == 4
    assert state.manage_session is False
    assert state.server.eio.cors.origin_allowed({"HTTP_ORIGIN": "https://example.com"})
    assert not state.server.eio.cors.origin_allowed({"HTTP_ORIGIN": "https://evil.example"})

    other = make_app()
    again = SocketIO(other)
    again.init_app(other, path="/live", max_http_buffer_size=1000)  # replaces, not stacks
    assert other.extensions["sockio_wsgi"].server.eio.path == "/live/"
    assert not isinstance(other.wsgi_app.other_wsgi_app, sockio_wsgi.WSGIApp)
    with again.test_client(other) as client:
        assert client.is_connected()


def test_bad_options_are_refused_clearly() -> None:
    with pytest.raises(TypeError, match="unknown SocketIO option 'ping_intervall'"):
        SocketIO(make_app(), ping_intervall=3)
    with pytest.raises(ValueError, match="gevent only"):
        SocketIO(make_app(), async_mode="eventlet")
    SocketIO(make_app(), async_mode="gevent", logger=True, engineio_logger=True)  # accepted


def test_message_queue_must_be_a_redis_url() -> None:
    with pytest.raises(ValueError, match="only Redis URLs"):
        SocketIO(make_app(), message_queue="amqp://127.0.0.1/")


def test_on_event_namespaces_and_event_with_namespace() -> None:
    socketio = SocketIO()

    def add(a: int, b: int) -> int:
        return a + b

    socketio.on_event("add", add, namespace="/math")

    @socketio.event(namespace="math")
    def neg(a: int) -> int:
        return -a

    app = make_app()
    socketio.init_app(app)
    with socketio.test_client(app, namespace="/math") as client:
        assert client.is_connected("/math") and not client.is_connected()
        assert client.emit("add", 2, 3, callback=True, namespace="/math") == 5
        assert client.emit("neg", 2, callback=True, namespace="/math") == -2


def test_error_handlers_namespace_first_then_default(caplog: pytest.LogCaptureFixture) -> None:
    socketio = SocketIO()
    seen: list[tuple[str, str, str]] = []

    @socketio.on("fail")
    def fail_root() -> None:
        raise ValueError("root")

    @socketio.on("fail", namespace="/chat")
    def fail_chat() -> None:
        raise KeyError("chat")

    @socketio.on("fail", namespace="/bare")
    def fail_bare() -> None:
        raise LookupError("bare")

    @socketio.on_error("/chat")
    def chat_error(exc: Exception) -> str:
        seen.append(("chat", type(exc).__name__, request.sid))  # the Flask context is intact
        return "chat handled"

    @socketio.on_error_default
    def default_error(exc: Exception) -> dict[str, str]:
        seen.append(("default", type(exc).__name__, request.event["message"]))
        return {"error": str(exc)}

    app = make_app()
    socketio.init_app(app)
    with socketio.test_client(app) as client:
        client.connect("/chat")
        assert client.emit("fail", callback=True) == {"error": "root"}
        assert client.emit("fail", callback=True, namespace="/chat") == "chat handled"
        assert seen == [
            ("default", "ValueError", "fail"),
            ("chat", "KeyError", client.sids["/chat"]),
        ]

        # no handler at all: logged, still connected, and the test client raises it
        socketio.default_error_handler = None
        client.connect("/bare")
        with caplog.at_level(logging.ERROR, logger="flask_ext"), pytest.raises(LookupError):
            client.emit("fail", callback=True, namespace="/bare")
        assert "handler for 'fail' on /bare failed" in caplog.text
        assert "LookupError" in caplog.text
        assert client.is_connected("/bare") and client.is_connected()


def test_refused_connections_carry_their_data() -> None:
    socketio = SocketIO()

    @socketio.on("connect")
    def connect(auth: Any) -> bool:
        if not auth:
            return False
        if auth.get("token") != "good":
            raise ConnectionRefusedError("unauthorized", {"hint": "token"})
        emit("hello", auth["token"])
        return True

    app = make_app()
    socketio.init_app(app)
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    assert anonymous.get_connect_error() == {"message": "Connection rejected by server"}
    wrong = socketio.test_client(app, auth={"token": "bad"})
    assert not wrong.is_connected()
    assert wrong.get_connect_error() == {"message": "unauthorized", "data": {"hint": "token"}}
    with socketio.test_client(app, auth={"token": "good"}) as good:
        assert good.is_connected()
        assert good.get_received() == [{"name": "hello", "args": ["good"], "namespace": "/"}]


def test_connect_and_disconnect_arguments_are_optional() -> None:
    socketio = SocketIO()
    events: list[Any] = []
    socketio.on_event("connect", lambda: events.append("connect"))
    socketio.on_event("disconnect", lambda: events.append("disconnect"))
    socketio.on_event("connect", lambda auth: events.append(("connect", auth)), namespace="/a")
    socketio.on_event(
        "disconnect", lambda reason: events.append(("disconnect", reason)), namespace="/a"
    )
    app = make_app()
    socketio.init_app(app)
    client = socketio.test_client(app)
    client.connect("/a", auth={"x": 1})
    client.disconnect("/a")
    client.disconnect()
    assert events == [
        "connect",
        ("connect", {"x": 1}),
        ("disconnect", "client namespace disconnect"),
        "disconnect",
    ]


class Chat(Namespace):
    def on_connect(self) -> None:
        self.emit("joined", request.sid)  # Namespace.emit broadcasts, as in Flask-SocketIO

    def on_shout(self, text: str) -> None:
        self.send(text.upper(), include_self=False)

    def on_echo(self, *args: Any) -> tuple[Any, ...]:
        return args


def test_class_based_namespace() -> None:
    socketio = SocketIO()
    socketio.on_namespace(Chat("/chat"))
    app = make_app()
    socketio.init_app(app)
    with (
        socketio.test_client(app, namespace="/chat") as a,
        socketio.test_client(app, namespace="/chat") as b,
    ):
        assert a.get_received("/chat") == [
            {"name": "joined", "args": [a.sids["/chat"]], "namespace": "/chat"},
            {"name": "joined", "args": [b.sids["/chat"]], "namespace": "/chat"},
        ]
        b.get_received("/chat")
        a.emit("shout", "hi", namespace="/chat")
        assert b.get_received("/chat") == [{"name": "message", "args": "HI", "namespace": "/chat"}]
        assert a.get_received("/chat") == []
        assert a.emit("echo", 1, "two", callback=True, namespace="/chat") == [1, "two"]


def test_emit_and_send_outside_handlers() -> None:
    socketio = SocketIO()
    app = make_app()
    socketio.init_app(app)
    with socketio.test_client(app) as a, socketio.test_client(app) as b:
        socketio.emit("tick", 1)  # the only app: no app context needed
        socketio.send("plain")
        socketio.emit("only", "b", to=b.sids["/"])
        with app.app_context():
            emit("ctx", 2)  # the helper broadcasts outside handlers
            send({"j": 1}, json=True)
        a.emit("sync")  # a round trip: everything above was queued before its ack
        b.emit("sync")
        assert [(m["name"], m["args"]) for m in a.get_received()] == [
            ("tick", [1]),
            ("message", "plain"),
            ("ctx", [2]),
            ("json", {"j": 1}),
        ]
        assert [m["name"] for m in b.get_received()] == ["tick", "message", "only", "ctx", "json"]


def test_background_task_and_sleep() -> None:
    socketio = SocketIO()
    app = make_app()
    socketio.init_app(app)

    @socketio.on("later")
    def later() -> None:
        sid = request.sid

        def work() -> None:
            socketio.sleep(0)
            socketio.emit("done", to=sid)

        socketio.start_background_task(work).join(timeout=5)

    with socketio.test_client(app) as client:
        client.emit("later")
        assert client.get_received() == [{"name": "done", "args": [], "namespace": "/"}]


RUN_SCRIPT = """
from gevent import monkey; monkey.patch_all()
from flask import Flask
from flask_ext import SocketIO
app = Flask("runner")
socketio = SocketIO(app)

@app.get("/stop")
def stop():
    socketio.stop()
    return "stopping"

socketio.run(app, "127.0.0.1", 0)
print("run returned", flush=True)
"""


def test_run_serves_the_app_and_stop_ends_it() -> None:
    import sys

    with started([sys.executable, "-c", RUN_SCRIPT], r"listening on (http://\S+)") as (
        proc,
        match,
    ):
        url = match.group(1)
        with urllib.request.urlopen(url + "/socket.io/?EIO=4&transport=polling", timeout=10) as r:
            assert r.read().startswith(b'0{"sid"')
        with urllib.request.urlopen(url + "/stop", timeout=10) as r:
            assert r.read() == b"stopping"
        assert proc.wait(timeout=15) == 0


def test_flask_socketio_attributes_per_app() -> None:
    socketio = SocketIO(ping_interval=5)
    assert socketio.manage_session is True
    assert socketio.async_mode == "gevent"
    first, second = Flask("first"), Flask("second")
    socketio.init_app(first, manage_session=False)
    socketio.init_app(second)
    assert socketio.server_options == {"ping_interval": 5, "manage_session": False}
    with first.app_context():
        assert socketio.manage_session is False
        assert socketio.server.eio.ping_interval == 5
    with second.app_context():
        assert socketio.manage_session is True
        assert socketio.server is not first.extensions["sockio_wsgi"].server


def test_namespaces_option_accepts_namespaces_without_handlers() -> None:
    app = Flask("listed")
    socketio = SocketIO(app, namespaces=["/listed"])
    client = socketio.test_client(app, namespace="/listed")
    assert client.is_connected("/listed")
    client.connect("/other")
    assert not client.is_connected("/other")
    assert client.get_connect_error("/other") == {"message": "Invalid namespace"}
    client.disconnect("/listed")
