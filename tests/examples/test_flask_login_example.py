"""examples/flask_login: the socket is authenticated by the login session.

In process through ``socketio.test_client`` (the Flask test client logs in with the form),
and as a user runs it: Chromium logs in with the form; an anonymous socket is refused.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from tests.helpers.browser import chromium_page, text_of, wait_until
from tests.helpers.processes import ROOT, python_script, started

APP = ROOT / "examples" / "flask_login" / "app.py"


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flask_login_example", APP)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault(spec.name, module)
    spec.loader.exec_module(module)
    return module


def test_login_session_reaches_the_socket_in_process() -> None:
    example = load_example()
    app, socketio = example.app, example.socketio
    anonymous = socketio.test_client(app)
    assert not anonymous.is_connected()
    assert anonymous.get_connect_error() == {"message": "unauthorized", "data": {"login": "/login"}}

    http = app.test_client()
    bad = http.post("/login", data={"username": "ada", "password": "nope"})
    assert b"wrong username or password" in bad.data
    assert http.post("/login", data={"username": "ada", "password": "lovelace"}).status_code == 302
    with socketio.test_client(app, flask_test_client=http) as ada:
        assert ada.is_connected()
        welcome = {"name": "welcome", "args": [{"user": "ada"}], "namespace": "/"}
        assert ada.get_received() == [welcome]
        assert ada.emit("whoami", callback=True) == "ada"


@pytest.fixture(scope="module")
def login_url() -> Iterator[str]:
    argv = python_script(str(Path("examples") / "flask_login" / "app.py"), "--port", "0")
    with started(argv, r"listening on (http://\S+)", timeout=120) as (_, match):
        yield match.group(1)


@pytest.mark.browser
def test_browser_logs_in_and_the_socket_knows_the_user(login_url: str) -> None:
    from selenium.webdriver.common.by import By

    with chromium_page() as page:
        page.get(login_url + "/")  # redirected to the login form
        wait_until(page, lambda p: text_of(p, "status").startswith("refused"))
        assert text_of(page, "status") == "refused: unauthorized (log in at /login)"
        page.find_element(By.ID, "username").send_keys("grace")
        page.find_element(By.ID, "password").send_keys("hopper")
        page.find_element(By.ID, "submit").click()
        wait_until(page, lambda p: "hello grace" in p.page_source)
        wait_until(page, lambda p: text_of(p, "status") == "connected as grace")
        wait_until(page, lambda p: text_of(p, "whoami") == "grace")
