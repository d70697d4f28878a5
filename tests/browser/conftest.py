"""A real headless Chromium (Debian's ``chromium`` and ``chromium-driver`` packages) driven by
Selenium against Django's live server. No browser or driver is downloaded: both paths are given,
which also keeps Selenium Manager out of it. Absent browser: skip, or fail under CI=true."""

from __future__ import annotations

import base64
import datetime as dt
import os
from pathlib import Path

import pytest
import time_machine
from django.contrib.auth import get_user_model

from tests.pages.demo import load_evaluated_demo
from tests.services import require

CHROMIUM = os.environ.get("TUNEFOLIO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("TUNEFOLIO_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = Path(__file__).resolve().parent.parent.parent / "var" / "screenshots"
PASSWORD = "browser-test-password"


@pytest.fixture
def demo_portfolio(transactional_db):
    """The demo portfolio, evaluated on ``DEMO_DAY``, and a superuser who signs in with a form."""
    with time_machine.travel(dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC), tick=True):
        load_evaluated_demo()
        user = get_user_model().objects.create_superuser("lead", "lead@example.com", PASSWORD)
        yield user


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    """One browser for the module: starting Chromium costs more than most of these tests."""
    require(
        "Chromium", os.path.exists(CHROMIUM), f"no browser at {CHROMIUM} (apt-get install chromium)"
    )
    require(
        "chromedriver",
        os.path.exists(CHROMEDRIVER),
        f"no driver at {CHROMEDRIVER} (apt-get install chromium-driver)",
    )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1360,1000",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chromium):
    """The module's browser, signed out: each test starts without the last one's cookies."""
    chromium.delete_all_cookies()
    chromium.set_window_size(1360, 1000)
    yield chromium
    chromium.delete_all_cookies()


def screenshot(driver, name: str, full_page: bool = True) -> Path:
    """Keep what the browser showed as a test artifact under var/screenshots/."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    if full_page:
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1360, min(max(int(height) + 120, 800), 6000))
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    # A half-size copy of the top of the page, small enough for the README.
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"format": "png", "clip": {"x": 0, "y": 0, "width": 1360, "height": 1500, "scale": 0.5}},
    )
    (SCREENSHOTS / f"{name}-small.png").write_bytes(base64.b64decode(shot["data"]))
    driver.set_window_size(1360, 1000)
    return path
