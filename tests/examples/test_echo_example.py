"""examples/echo_server.py starts as a user would run it and works from a real browser."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator

import pytest

from tests.helpers.browser import chromium_page, text_of, wait_until
from tests.helpers.node import NodeClient
from tests.helpers.processes import python_script, started


@pytest.fixture(scope="module")
def echo_url() -> Iterator[str]:
    argv = python_script("examples/echo_server.py", "--port", "0")
    with started(argv, r"listening on (http://\S+)", timeout=120) as (_, match):
        yield match.group(1)


def test_page_and_client_script_are_served(echo_url: str) -> None:
    with urllib.request.urlopen(echo_url + "/", timeout=10) as response:
        page = response.read().decode()
    assert '<script src="/socket.io.min.js">' in page
    with urllib.request.urlopen(echo_url + "/socket.io.min.js", timeout=10) as response:
        assert response.headers["Content-Type"] == "application/javascript"
        assert b"Socket.IO" in response.read()


@pytest.mark.node
def test_official_client_round_trip(echo_url: str) -> None:
    with NodeClient() as client:
        client.connect(echo_url, "a")
        client.connect(echo_url, "b", forceNew=True)
        welcome = client.wait_for("event", id="a", event="welcome")
        assert welcome["args"][0]["id"] == client.wait_for("connect", id="a")["sid"]
        assert client.call("a", "echo", "hello") == ["hello"]
        client.wait_for("connect", id="b")
        client.emit("b", "shout", "hi all")
        shout = client.wait_for("event", id="a", event="shout")
        assert shout["args"] == [{"from": client.state("b")["sid"], "text": "hi all"}]


@pytest.mark.browser
def test_two_browser_tabs(echo_url: str) -> None:
    from selenium.webdriver.common.by import By

    with chromium_page() as first, chromium_page() as second:
        for page in (first, second):
            page.get(echo_url + "/")
            wait_until(page, lambda p: text_of(p, "status") == "connected")
        # the page upgrades from polling to WebSocket on its own
        wait_until(first, lambda p: text_of(p, "transport") == "websocket")

        first.find_element(By.ID, "text").send_keys("ping from one")
        first.find_element(By.CSS_SELECTOR, "button[value=echo]").click()
        wait_until(first, lambda p: "echo: ping from one" in text_of(p, "log"))

        first.find_element(By.ID, "text").send_keys("hello two")
        first.find_element(By.CSS_SELECTOR, "button[value=shout]").click()
        wait_until(second, lambda p: "shouts: hello two" in text_of(p, "log"))
        assert "shouts: hello two" not in text_of(first, "log")
