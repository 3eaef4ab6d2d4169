"""A Flask-SocketIO app and its tests, ported by changing imports.

``socketio_app.py`` imports from ``flask_ext``; every test here runs against it and against
the same source importing ``flask_socketio`` instead, with Flask-SocketIO's own test client,
so each assertion is Flask-SocketIO's behaviour as much as ours.
"""

from __future__ import annotations

import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

SOURCE = Path(__file__).with_name("socketio_app.py")


def load_app(package: str) -> types.ModuleType:
    """A fresh copy of the app module, importing its SocketIO names from ``package``."""
    text = SOURCE.read_text().replace("from flask_ext import", f"from {package} import")
    module = types.ModuleType(f"socketio_app_{package}")
    module.__file__ = str(SOURCE)
    exec(compile(text, str(SOURCE), "exec"), module.__dict__)
    return module


@pytest.fixture(params=["flask_ext", "flask_socketio"])
def chat(request: pytest.FixtureRequest) -> Iterator[types.ModuleType]:
    module = load_app(request.param)
    yield module
    for task in module.tasks:
        task.join()


@pytest.fixture
def client(chat: types.ModuleType) -> Iterator[Any]:
    client = chat.socketio.test_client(chat.app, query_string="room=lobby&lang=en")
    yield client
    if client.is_connected():
        client.disconnect()


def names(received: list[dict[str, Any]]) -> list[str]:
    return [item["name"] for item in received]


def test_connect_sees_only_the_apps_query_parameters(client: Any) -> None:
    assert client.is_connected()
    [welcome] = client.get_received()
    assert welcome == {
        "name": "welcome",
        "args": [
            {"user": None, "args": {"room": "lobby", "lang": "en"}, "header": None, "auth": None}
        ],
        "namespace": "/",
    }


def test_connect_with_headers_and_auth(chat: types.ModuleType) -> None:
    client = chat.socketio.test_client(
        chat.app, headers={"X-Client": "tests"}, auth={"token": "good"}
    )
    [welcome] = client.get_received()
    assert welcome["args"][0]["header"] == "tests"
    assert welcome["args"][0]["auth"] == {"token": "good"}
    client.disconnect()


def test_binary_data(client: Any) -> None:
    client.get_received()
    blob = bytes(range(256))
    assert client.emit("echo", {"blob": blob}, callback=True) == {"blob": blob}
    assert client.get_received() == [{"name": "echo", "args": [{"blob": blob}], "namespace": "/"}]


def test_refused_connect(chat: types.ModuleType) -> None:
    client = chat.socketio.test_client(chat.app, auth={"token": "bad"})
    assert not client.is_connected()


def test_a_tuple_is_several_arguments_in_emit_and_ack(client: Any) -> None:
    client.get_received()
    assert client.emit("echo", 1, {"a": 2}, callback=True) == [1, {"a": 2}]
    assert client.emit("echo", "one", callback=True) == "one"
    assert client.get_received() == [
        {"name": "echo", "args": [1, {"a": 2}], "namespace": "/"},
        {"name": "echo", "args": ["one"], "namespace": "/"},
    ]


def test_data_shapes_of_every_emit(client: Any) -> None:
    client.get_received()
    client.emit("shapes")
    assert client.get_received() == [
        {"name": "pair", "args": [1, [2]], "namespace": "/"},
        {"name": "one", "args": [[1, 2]], "namespace": "/"},
        {"name": "nothing", "args": [], "namespace": "/"},
        {"name": "null", "args": [None], "namespace": "/"},
        {"name": "message", "args": "first", "namespace": "/"},
    ]


def test_send_and_json(client: Any) -> None:
    client.get_received()
    client.send("hello")
    client.send({"k": [1, 2]}, json=True)
    assert client.get_received() == [
        {"name": "message", "args": "hello", "namespace": "/"},
        {"name": "json", "args": {"k": [1, 2]}, "namespace": "/"},
    ]


def test_extra_emit_keywords_are_ignored_by_the_test_client(client: Any) -> None:
    client.get_received()
    assert client.emit("echo", 7, broadcast=True, callback=True) == 7
    assert names(client.get_received()) == ["echo"]


def test_session_is_the_sockets_own_copy(chat: types.ModuleType) -> None:
    http = chat.app.test_client()
    assert http.get("/login/ada").status_code == 200
    client = chat.socketio.test_client(chat.app, flask_test_client=http)
    assert client.get_received()[0]["args"][0]["user"] == "ada"
    client.emit("remember", 42)
    assert client.emit("recall", callback=True) == [42, "ada"]
    other = chat.socketio.test_client(chat.app, flask_test_client=http)
    assert other.emit("recall", callback=True) == [None, "ada"]  # copies are per socket
    other.disconnect()
    client.disconnect()


def test_rooms_and_broadcasts(chat: types.ModuleType) -> None:
    ada = chat.socketio.test_client(chat.app)
    bob = chat.socketio.test_client(chat.app)
    ada.get_received()
    bob.get_received()
    ada_rooms = ada.emit("join", "r1", callback=True)
    assert "r1" in ada_rooms and len(ada_rooms) == 2  # and its own sid room
    bob.emit("join", "r1")
    assert names(ada.get_received()) == ["joined", "joined"]
    bob.emit("say", "r1", "hi")
    said = ada.get_received()
    assert [item["name"] for item in said] == ["said"]
    assert said[0]["args"][1] == "hi" and len(said[0]["args"]) == 2
    assert names(bob.get_received()) == ["joined"]  # include_self=False
    assert "r1" not in bob.emit("leave", "r1", callback=True)
    ada.emit("say", "r1", "again")
    assert names(bob.get_received()) == []
    ada.emit("close", "r1")
    assert ada.emit("leave", "x", callback=True) == sorted(set(ada_rooms) - {"r1"})
    ada.emit("shout", "all")
    assert names(bob.get_received()) == ["shouted"]
    assert names(ada.get_received()) == ["shouted"]
    ada.disconnect()
    bob.disconnect()


def test_emit_from_a_view_reaches_the_client(chat: types.ModuleType, client: Any) -> None:
    client.get_received()
    assert chat.app.test_client().get("/notify").status_code == 200
    assert client.get_received() == [
        {"name": "notice", "args": [{"from": "http"}], "namespace": "/"}
    ]


def test_catch_all_gets_events_without_a_handler(client: Any) -> None:
    client.get_received()
    assert client.emit("anything", {"x": 1}, callback=True) == "caught anything"
    assert client.get_received() == [
        {"name": "caught", "args": ["anything", {"x": 1}], "namespace": "/"}
    ]


def test_unencodable_data_raises_type_error_at_the_call(client: Any) -> None:
    assert client.emit("unencodable", callback=True) == {"error": "TypeError"}
    assert client.emit("unencodable_to_nobody", callback=True) == "TypeError"
    assert "never" not in names(client.get_received())
    assert client.is_connected()


def test_an_exception_no_error_handler_takes_reaches_the_test(chat: types.ModuleType) -> None:
    client = chat.bare.test_client(chat.bare_app)
    with pytest.raises(LookupError, match="no error handler here"):
        client.emit("boom")
    assert client.is_connected()
    assert client.emit("fine", callback=True) == "fine"
    client.disconnect()


def test_background_task_emits_to_the_client(chat: types.ModuleType, client: Any) -> None:
    sid = client.emit("whoami", callback=True)
    client.get_received()
    client.emit("start_task")
    chat.tasks.pop().join()
    assert client.get_received() == [
        {"name": "task_done", "args": [{"for": sid}], "namespace": "/"}
    ]


def test_class_based_namespace(chat: types.ModuleType) -> None:
    client = chat.socketio.test_client(chat.app, namespace="/chat")
    assert client.is_connected("/chat")
    hello = client.get_received("/chat")
    assert [item["name"] for item in hello] == ["hello"]
    assert hello[0]["args"][0] == "chat" and len(hello[0]["args"]) == 2
    assert client.emit("greet", "ada", namespace="/chat", callback=True) == "hi ada"
    assert client.get_received("/chat") == [
        {"name": "greeted", "args": ["ada", "welcome"], "namespace": "/chat"}
    ]
    client.disconnect(namespace="/chat")
    assert not client.is_connected("/chat")


def test_catch_all_namespace(chat: types.ModuleType) -> None:
    client = chat.socketio.test_client(chat.app, namespace="/anywhere")
    assert client.is_connected("/anywhere")  # namespaces="*"
    assert client.emit("where", namespace="/anywhere", callback=True) == "/anywhere"
    with pytest.raises(RuntimeError):  # not connected there
        client.emit("where", namespace="/chat")
    client.connect("/")
    client.get_received("/")
    # "/" has its own "*" handler, which comes before the "*" namespace's "where"
    assert client.emit("where", "x", callback=True) == "caught where"
    client.disconnect("/anywhere")
    client.disconnect("/")


def test_server_side_disconnect(client: Any) -> None:
    client.emit("leave_me")
    assert not client.is_connected()
    with pytest.raises(RuntimeError):
        client.emit("echo", 1)


def test_attributes_users_reach_for(chat: types.ModuleType) -> None:
    socketio = chat.socketio
    assert socketio.manage_session is True
    assert socketio.async_mode in ("gevent", "threading", "eventlet")
    assert isinstance(socketio.server_options, dict)
    assert socketio.server.eio is not None
