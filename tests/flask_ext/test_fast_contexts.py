"""The fast event contexts (flask_ext/flask_internals.py): what they add to the public
path's behaviour, which test_context.py checks on both. They run on the Flask releases
flask_ext.context.FAST_PATH_RELEASES names; elsewhere flask_ext never takes them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask, Request, current_app, g, has_request_context, request, session

import flask_ext.context
from flask_ext import SocketIO
from flask_ext.context import FAST_PATH_RELEASES, PublicEventContexts, event_contexts
from tests.flask_ext.test_context import make_app

pytestmark = pytest.mark.skipif(
    flask_ext.context.flask_release() not in FAST_PATH_RELEASES,
    reason="the fast path is not used on this Flask release",
)


@pytest.fixture(autouse=True)
def fast_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(flask_ext.context, "use_fast_path", True)
    yield


def test_the_fast_path_is_taken_only_on_the_releases_it_knows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flask_ext.flask_internals import FastEventContexts

    app = Flask("choice")
    assert isinstance(event_contexts(app), FastEventContexts)
    for release in [(2, 3), (3, 2), (4, 0)]:
        monkeypatch.setattr(flask_ext.context, "flask_release", lambda release=release: release)
        assert isinstance(event_contexts(app), PublicEventContexts)


def test_each_event_has_its_own_request_and_the_url_adapter_is_made_once() -> None:
    """The URL adapter of a socket's handshake is built once; the request object, its
    attributes and the flashes are each event's own."""

    class CountingFlask(Flask):
        adapters = 0

        def create_url_adapter(self, request: Any) -> Any:
            if request is not None:
                CountingFlask.adapters += 1
            return super().create_url_adapter(request)

    app = CountingFlask("ctx")
    app.secret_key = "test secret"
    socketio = SocketIO(app)
    seen: list[int] = []

    @socketio.on("mark")
    def mark() -> list[Any]:
        had = getattr(request, "marker", None)
        request.marker = "set by an earlier event"  # type: ignore[attr-defined]
        seen.append(id(request._get_current_object()))  # type: ignore[attr-defined]
        return [had, request.event["message"]]

    with socketio.test_client(app) as client:
        before = CountingFlask.adapters
        for _ in range(3):
            assert client.emit("mark", callback=True) == [None, "mark"]
        assert CountingFlask.adapters == before + 1  # on the first event only
    assert len(set(seen)) == 3


def test_an_event_that_reads_neither_request_nor_session_builds_neither() -> None:
    """The request object and the session are made when a handler first touches them,
    and then they are what Flask would have made (sid, event, the handshake's cookie)."""

    class CountingRequest(Request):
        made = 0

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            CountingRequest.made += 1
            super().__init__(*args, **kwargs)

    app, socketio = make_app()
    app.request_class = CountingRequest
    opened: list[str] = []
    interface = app.session_interface
    original_open = interface.open_session

    def counting_open(app: Flask, request: Request) -> Any:
        opened.append(request.path)
        return original_open(app, request)

    interface.open_session = counting_open  # type: ignore[method-assign]

    @socketio.on("plain")
    def plain(value: int) -> Any:
        return [value, current_app.name, has_request_context()]

    @socketio.on("full")
    def full() -> Any:
        return [request.sid, request.event["message"], session.get("value")]

    http = app.test_client()
    http.post("/set/handshake")
    with socketio.test_client(app, flask_test_client=http) as client:
        made = CountingRequest.made
        assert client.emit("plain", 1, callback=True) == [1, "ctx", True]
        assert client.emit("plain", 2, callback=True) == [2, "ctx", True]
        assert CountingRequest.made == made
        assert "/socket.io/" not in opened  # connecting opened no session either
        http.post("/set/changed-later")  # the socket keeps its handshake's session
        assert client.emit("full", callback=True) == [client.sids["/"], "full", "handshake"]
        assert CountingRequest.made > made
        assert opened.count("/socket.io/") == 1  # the managed copy, made on first use


def test_a_request_that_cannot_be_made_leaves_no_context_behind() -> None:
    """When making an event's request fails, the handler sees the error, teardown still
    runs, and the next event gets fresh contexts (its own g, a working request)."""

    class FlakyRequest(Request):
        fail = False

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            if FlakyRequest.fail:
                FlakyRequest.fail = False
                raise RuntimeError("cannot make the request")
            super().__init__(*args, **kwargs)

    app, socketio = make_app(manage_session=False)  # (a managed copy makes a request too)
    app.request_class = FlakyRequest
    torn_down: list[Any] = []

    @app.teardown_appcontext
    def teardown(exc: BaseException | None) -> None:
        torn_down.append(g.get("mark"))

    @socketio.on("touch")
    def touch() -> Any:
        g.mark = "first"
        FlakyRequest.fail = True  # the next request made, this event's, fails
        try:
            return request.sid
        except RuntimeError as exc:
            return str(exc)

    @socketio.on("fresh")
    def fresh() -> Any:
        return [g.get("mark"), request.sid == client.sids["/"]]

    with socketio.test_client(app) as client:
        assert client.emit("touch", callback=True) == "cannot make the request"
        assert client.emit("fresh", callback=True) == [None, True]
    assert torn_down[:2] == ["first", None]
