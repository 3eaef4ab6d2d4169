"""Headless Chromium (Debian's chromium and chromium-driver) driven by Selenium.

Browser tests fail under CI=true when Chromium is missing (``.ci/run`` installs it) and are
skipped elsewhere, so a developer machine without it still runs everything else.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.helpers.requirements import missing

CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def _find(*names: str) -> str | None:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    return None


@contextmanager
def chromium_page() -> Iterator[Any]:
    """A fresh headless Chromium window (a Selenium WebDriver), closed at the end."""
    binary = _find("chromium", "chromium-browser")
    driver_path = _find("chromedriver")
    absent = [
        name for name, path in (("chromium", binary), ("chromedriver", driver_path)) if not path
    ]
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        absent.append("selenium")
    if absent:
        missing(f"browser test needs {', '.join(absent)}")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    profile = tempfile.mkdtemp(prefix="sockio-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(20)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_until(driver: Any, condition: Callable[[Any], Any], timeout: float = 10.0) -> Any:
    """Wait for a condition on the page (Selenium polls the DOM; there is no event to await)."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.05).until(condition)


def text_of(driver: Any, element_id: str) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.ID, element_id).text)
