"""``SocketIO(app, message_queue=...)``: two Flask apps, each on its own server, act as one
through Redis, and the emitter reaches their clients."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from flask import Flask

import sockio_wsgi
from flask_ext import SocketIO, emit, join_room
from tests.cluster.helpers import peers
from tests.helpers.server import serving

pytestmark = pytest.mark.redis


def chat_app(redis_url: str, prefix: str) -> tuple[Flask, SocketIO]:
    app = Flask(__name__)
    socketio = SocketIO(app, message_queue=redis_url, channel=prefix)

    @socketio.on("join")
    def join(room: str) -> str:
        join_room(room)
        return "joined"

    @socketio.on("say")
    def say(room: str, text: str) -> None:
        emit("said", text, to=room)

    return app, socketio


@contextmanager
def two_apps(redis_url: str, prefix: str) -> Iterator[list[str]]:
    with ExitStack() as stack:
        urls = []
        for _ in range(2):
            app, _ = chat_app(redis_url, prefix)
            running = stack.enter_context(serving(app))
            adapter = app.extensions["sockio_wsgi"].server.of("/").adapter
            assert isinstance(adapter, sockio_wsgi.RedisAdapter)
            assert adapter.wait_health(True, 5), "the bus never came up"
            stack.callback(adapter.bus.close)
            urls.append(running.url)
        yield urls


def test_room_messages_cross_apps_and_the_emitter_reaches_them(redis_url: str, prefix: str) -> None:
    with (
        two_apps(redis_url, prefix) as (url_a, url_b),
        peers((url_a, {}), (url_b, {}), (url_b, {})) as (on_a, on_b, outsider),
    ):
        for peer in (on_a, on_b):
            assert peer.client.emit_with_ack("join", "lobby", timeout=5) == "joined"
        on_a.client.emit("say", "lobby", "hello from a")
        assert on_b.got("said") == ("hello from a",)
        assert on_a.got("said") == ("hello from a",)

        emitter = sockio_wsgi.RedisEmitter(redis_url, key_prefix=prefix)
        emitter.to("lobby").emit("news", {"n": 1})
        assert on_a.got("news") == ({"n": 1},)
        assert on_b.got("news") == ({"n": 1},)
        emitter.emit("everyone", "hi")
        assert outsider.got("everyone") == ("hi",)
        assert outsider.never_got("said") and outsider.never_got("news")


def test_message_queue_options_come_from_config_too(redis_url: str, prefix: str) -> None:
    app = Flask(__name__)
    app.config.update(SOCKETIO_MESSAGE_QUEUE=redis_url, SOCKETIO_CHANNEL=prefix)
    SocketIO(app)
    adapter: Any = app.extensions["sockio_wsgi"].server.of("/").adapter
    try:
        assert isinstance(adapter, sockio_wsgi.RedisAdapter)
        assert adapter.wait_health(True, 5)
        assert adapter.bus.key_prefix == prefix
    finally:
        adapter.bus.close()


def test_socketio_without_an_app_is_an_emitter(redis_url: str, prefix: str) -> None:
    """Flask-SocketIO's external process: ``SocketIO(message_queue=...)`` and ``emit``."""
    with (
        two_apps(redis_url, prefix) as (url_a, url_b),
        peers((url_a, {}), (url_b, {})) as (on_a, on_b),
    ):
        for peer in (on_a, on_b):
            assert peer.client.emit_with_ack("join", "lobby", timeout=5) == "joined"
        external = SocketIO(message_queue=redis_url, channel=prefix)
        external.emit("news", "to all")
        external.emit("room-news", "to the lobby", to="lobby", skip_sid=on_b.sid)
        assert on_a.got("news") == ("to all",) and on_b.got("news") == ("to all",)
        assert on_a.got("room-news") == ("to the lobby",)
        external.emit("marker", "done", to="lobby")
        assert on_b.got("marker") == ("done",)  # published after room-news: that is skipped
        assert on_b.never_got("room-news")
        with pytest.raises(ValueError, match="acknowledgements"):
            external.emit("ask", callback=print)
