"""examples/chat/app.py starts as a user would run it; two browsers chat in a room."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from tests.helpers.browser import chromium_page, text_of, wait_until
from tests.helpers.node import NodeClient
from tests.helpers.processes import python_script, started


@pytest.fixture(scope="module")
def chat_url() -> Iterator[str]:
    argv = python_script("examples/chat/app.py", "--port", "0")
    with started(argv, r"listening on (http://\S+)", timeout=120) as (_, match):
        yield match.group(1)


def test_page_and_client_script_are_served(chat_url: str) -> None:
    with urllib.request.urlopen(chat_url + "/", timeout=10) as response:
        assert '<script src="/socket.io.min.js">' in response.read().decode()
    with urllib.request.urlopen(chat_url + "/socket.io.min.js", timeout=10) as response:
        assert response.headers["Content-Type"].startswith("application/javascript")
        assert b"Socket.IO" in response.read()


@pytest.mark.node
def test_official_client_rooms_and_notices(chat_url: str) -> None:
    with NodeClient() as client:
        client.connect(chat_url, "ada")
        client.connect(chat_url, "bob", forceNew=True)
        client.connect(chat_url, "eve", forceNew=True)
        assert client.call("ada", "join", {"nick": "ada", "room": "tea"}) == [
            {"nick": "ada", "room": "tea"}
        ]
        client.call("eve", "join", {"nick": "eve", "room": "coffee"})
        client.call("bob", "join", {"nick": "bob", "room": "tea"})
        assert client.wait_for("event", id="ada", event="notice")["args"] == ["bob joined"]
        client.emit("bob", "say", "hello ada")
        for who in ("ada", "bob"):
            said = client.wait_for("event", id=who, event="chat")
            assert said["args"] == [{"nick": "bob", "text": "hello ada"}]
        client.command("disconnect", id="bob")
        assert client.wait_for("event", id="ada", event="notice")["args"] == ["bob left"]
        client.emit("eve", "say", "anyone?")  # another room: ada hears nothing of it
        assert client.wait_for("event", id="eve", event="chat")["args"][0]["text"] == "anyone?"
        client.emit("ada", "say", "still here")
        assert client.wait_for("event", id="ada", event="chat")["args"][0]["text"] == "still here"
        assert not [
            m
            for m in client.messages
            if m.get("id") == "ada" and m.get("event") == "chat" and m["args"][0]["nick"] == "eve"
        ]


@pytest.mark.browser
def test_two_browsers_in_one_room(chat_url: str) -> None:
    from selenium.webdriver.common.by import By

    def join(page: Any, nick: str, room: str) -> None:
        page.get(chat_url + "/")
        wait_until(page, lambda p: text_of(p, "status") == "connected")
        page.find_element(By.ID, "nick").send_keys(nick)
        field = page.find_element(By.ID, "roomname")
        field.clear()
        field.send_keys(room)
        page.find_element(By.CSS_SELECTOR, "#join button").click()
        wait_until(page, lambda p: text_of(p, "room") == room)

    def say(page: Any, text: str) -> None:
        page.find_element(By.ID, "text").send_keys(text)
        page.find_element(By.CSS_SELECTOR, "#say button").click()

    with chromium_page() as first, chromium_page() as second:
        join(first, "ada", "garden")
        join(second, "bob", "garden")
        wait_until(first, lambda p: "* bob joined" in text_of(p, "log"))
        say(first, "hello bob")
        wait_until(second, lambda p: "ada: hello bob" in text_of(p, "log"))
        wait_until(first, lambda p: "ada: hello bob" in text_of(p, "log"))
        say(second, "hi ada")
        wait_until(first, lambda p: "bob: hi ada" in text_of(p, "log"))
