"""Handlers run in a Flask request context built from the handshake: request, session,
Flask-Login's current_user, teardown functions."""

from __future__ import annotations

from typing import Any

import pytest
from flask import (
    Flask,
    appcontext_popped,
    appcontext_pushed,
    appcontext_tearing_down,
    copy_current_request_context,
    current_app,
    g,
    request,
    request_tearing_down,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user

import flask_ext.context
from flask_ext import ConnectionRefusedError, SocketIO, emit
from flask_ext.context import flask_release


def make_app(**options: Any) -> tuple[Flask, SocketIO]:
    app = Flask("ctx")
    app.secret_key = "test secret"

    @app.post("/set/<value>")
    def set_value(value: str) -> str:
        session["value"] = value
        return "ok"

    @app.get("/get")
    def get_value() -> str:
        return str(session.get("value"))

    return app, SocketIO(app, **options)


def test_request_attributes_headers_query_and_app_context() -> None:
    app, socketio = make_app()
    torn_down: list[str] = []

    @app.teardown_request
    def teardown(exc: BaseException | None) -> None:
        if hasattr(request, "event"):
            torn_down.append(request.event["message"])

    @socketio.on("inspect")
    def inspect_request(*args: Any) -> dict[str, Any]:
        g.value = "per event"
        return {
            "sid": request.sid,
            "namespace": request.namespace,
            "event": request.event,
            "app": current_app.name,
            "query": request.args.get("room"),
            "header": request.headers.get("X-Team"),
            "path": request.path,
        }

    @socketio.on("g")
    def read_g() -> bool:
        return hasattr(g, "value")  # g does not outlive its event

    with socketio.test_client(app, query_string="room=blue", headers={"X-Team": "red"}) as c:
        info = c.emit("inspect", 1, [2], callback=True)
        assert info == {
            "sid": c.sids["/"],
            "namespace": "/",
            "event": {"message": "inspect", "args": [1, [2]]},
            "app": "ctx",
            "query": "blue",
            "header": "red",
            "path": "/socket.io/",
        }
        assert c.emit("g", callback=True) is False
    assert torn_down[:2] == ["inspect", "g"]


def test_url_matching_of_the_handshake_is_the_same_on_every_event() -> None:
    """The match is made once per socket and reused: later events see what the first saw,
    url_for works in each, and another socket gets its own match."""
    app, socketio = make_app()

    @app.get("/<path:anything>")
    def catch_all(anything: str) -> str:
        return anything

    @socketio.on("route")
    def route() -> list[Any]:
        rule = request.url_rule
        answer = [
            rule.rule if rule is not None else None,
            dict(request.view_args or {}),
            url_for("catch_all", anything="x"),
        ]
        assert request.view_args is not None
        request.view_args["anything"] = "changed by a handler"  # not seen by later events
        return answer

    expected = ["/<path:anything>", {"anything": "socket.io/"}, "/x"]
    with socketio.test_client(app) as first, socketio.test_client(app) as second:
        assert first.emit("route", callback=True) == expected
        assert first.emit("route", callback=True) == expected
        assert second.emit("route", callback=True) == expected


@pytest.mark.skipif(flask_release() < (3, 1), reason="TRUSTED_HOSTS is new in Flask 3.1")
def test_a_refused_host_is_the_routing_exception_of_every_event() -> None:
    """When Flask cannot build the URL adapter (an untrusted host), each event's request
    carries the error, as an HTTP request's would."""
    app, socketio = make_app()
    app.config["TRUSTED_HOSTS"] = ["only.example"]

    @socketio.on("routing")
    def routing() -> Any:
        error = request.routing_exception
        try:
            host = request.host
        except Exception as exc:  # the host check holds for the event's request too
            host = type(exc).__name__
        return [type(error).__name__ if error is not None else None, host]

    with socketio.test_client(app) as client:
        assert client.emit("routing", callback=True) == ["SecurityError", "SecurityError"]
        assert client.emit("routing", callback=True) == ["SecurityError", "SecurityError"]


def test_copy_current_request_context_in_a_greenlet() -> None:
    app, socketio = make_app()
    seen: list[Any] = []

    @socketio.on("later")
    def later() -> None:
        sid = request.sid

        @copy_current_request_context
        def work() -> None:
            seen.append((request.sid == sid, request.path, request.url_rule is not None))

        socketio.start_background_task(work).join()

    with socketio.test_client(app) as client:
        client.emit("later", callback=True)
    assert seen == [(True, "/socket.io/", False)]


def test_managed_session_is_a_per_socket_copy_kept_across_events() -> None:
    app, socketio = make_app()

    @socketio.on("bump")
    def bump() -> Any:
        session["count"] = session.get("count", 0) + 1
        return [session.get("value"), session["count"]]

    http = app.test_client()
    http.post("/set/from-cookie")
    with socketio.test_client(app, flask_test_client=http) as one:
        other = socketio.test_client(app, flask_test_client=http)
        assert one.emit("bump", callback=True) == ["from-cookie", 1]
        assert one.emit("bump", callback=True) == ["from-cookie", 2]
        assert other.emit("bump", callback=True) == ["from-cookie", 1]  # its own copy
        other.disconnect()
    assert http.get("/get").get_data(as_text=True) == "from-cookie"  # the cookie is unchanged


def test_unmanaged_session_is_the_cookie_session() -> None:
    app, socketio = make_app(manage_session=False)

    @socketio.on("read")
    def read() -> Any:
        value = session.get("value")
        session["count"] = session.get("count", 0) + 1  # not saved: there is no response
        return [value, session["count"]]

    http = app.test_client()
    http.post("/set/cookie")
    with socketio.test_client(app, flask_test_client=http) as client:
        assert client.emit("read", callback=True) == ["cookie", 1]
        assert client.emit("read", callback=True) == ["cookie", 1]


def test_teardown_functions_and_context_signals_run_for_every_event() -> None:
    """What Flask runs around a request runs around each event, touched or not: teardown
    functions of both contexts and the app context's signals, with g the event's own."""
    app, socketio = make_app()
    calls: list[str] = []

    @app.teardown_appcontext
    def app_teardown(exc: BaseException | None) -> None:
        calls.append(f"teardown_app:{g.get('mark')}")

    def record(name: str) -> Any:
        def receiver(sender: Flask, **kwargs: Any) -> None:
            assert sender is app
            calls.append(name)

        return receiver

    receivers = {
        appcontext_pushed: record("pushed"),
        request_tearing_down: record("request_tearing_down"),
        appcontext_tearing_down: record("app_tearing_down"),
        appcontext_popped: record("popped"),
    }
    for signal, receiver in receivers.items():
        signal.connect(receiver, app)

    @socketio.on("mark")
    def mark(value: str) -> None:
        g.mark = value

    @socketio.on("nothing")
    def nothing() -> None:
        return None

    try:
        with socketio.test_client(app) as client:
            del calls[:]
            client.emit("mark", "first", callback=True)
            client.emit("nothing", callback=True)

            def one_event(mark: str) -> list[str]:
                return [
                    "pushed",
                    "request_tearing_down",
                    f"teardown_app:{mark}",
                    "app_tearing_down",
                    "popped",
                ]

            assert calls == one_event("first") + one_event("None")
    finally:
        for signal, receiver in receivers.items():
            signal.disconnect(receiver, app)


class User(UserMixin):
    def __init__(self, name: str) -> None:
        self.id = name


@pytest.fixture
def login_app() -> tuple[Flask, SocketIO]:
    app, socketio = make_app()
    manager = LoginManager(app)
    manager.user_loader(lambda name: User(name) if name in ("ada", "grace") else None)

    @app.post("/login/<name>")
    def login(name: str) -> str:
        login_user(User(name))
        return "ok"

    @socketio.on("connect")
    def connect() -> None:
        if not current_user.is_authenticated:
            raise ConnectionRefusedError("unauthorized")
        emit("welcome", current_user.id)

    @socketio.on("whoami")
    def whoami() -> str:
        return str(current_user.id)

    return app, socketio


def test_flask_login_current_user_from_the_login_session(
    login_app: tuple[Flask, SocketIO],
) -> None:
    app, socketio = login_app
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    assert anonymous.get_connect_error() == {"message": "unauthorized"}

    http = app.test_client()
    assert http.post("/login/ada").status_code == 200
    with socketio.test_client(app, flask_test_client=http) as ada:
        assert ada.is_connected()
        assert ada.get_received() == [{"name": "welcome", "args": ["ada"], "namespace": "/"}]
        assert ada.emit("whoami", callback=True) == "ada"
        # the user's own Flask test client keeps working beside the socket
        with http:
            http.post("/login/grace")
        assert ada.emit("whoami", callback=True) == "ada"  # the socket's session is its own


def test_public_path_managed_session_survives_a_new_session_interface(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """On the public path the managed copy reaches each event through the app's session
    interface; one set after init_app (as Flask-Session does) is wrapped in turn, and HTTP
    requests keep the cookie session."""
    monkeypatch.setattr(flask_ext.context, "use_fast_path", False)
    app, socketio = make_app()

    @socketio.on("remember")
    def remember(value: int) -> None:
        session["value"] = value

    @socketio.on("recall")
    def recall() -> Any:
        return session.get("value")

    http = app.test_client()
    http.post("/set/cookie")
    with socketio.test_client(app, flask_test_client=http) as client:
        client.emit("remember", 1)
        app.session_interface = SecureCookieSessionInterface()
        assert client.emit("recall", callback=True) == 1
        assert http.get("/get").get_data(as_text=True) == "cookie"
        http.post("/set/changed")
        assert client.emit("recall", callback=True) == 1
    assert http.get("/get").get_data(as_text=True) == "changed"
