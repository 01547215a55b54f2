"""Headless Chromium (Debian's package) driven by Selenium against a live server; axe-core on every page.

Nothing is downloaded at run time: the browser and its driver come from apt, axe-core is vendored
here from npm. Without /usr/bin/chromium the browser tests skip on a developer's machine, and fail
in CI (``CI`` set), where a missing browser is a broken install, not a reason to pass.
"""

from __future__ import annotations

import base64
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from litestar import Litestar
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000", "--lang=ja",
)  # fmt: skip
AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
#: Where the tests leave their screenshots; ``SHINSEI_SCREENSHOTS=docs/console`` refreshes the committed ones.
SCREENSHOTS = os.environ.get("SHINSEI_SCREENSHOTS")


def need_browser() -> None:
    if not CHROMIUM.exists() and not os.environ.get("CI"):
        pytest.skip("no /usr/bin/chromium (apt-get install chromium chromium-driver); CI fails instead")


def chrome() -> WebDriver:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in FLAGS:
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


class LiveServer:
    """The app under uvicorn in a thread of the test process, on a free port of 127.0.0.1."""

    def __init__(self, app: Litestar) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_config=None, lifespan="on", ws="none", http="h11",
            loop="asyncio", access_log=False,
        )  # fmt: skip
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("the live server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class Browser:
    """One Chromium for the test, with the helpers the tests share."""

    def __init__(self, driver: WebDriver, base: str) -> None:
        self.driver, self.base = driver, base

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)

    def find(self, css: str) -> Any:
        return self.driver.find_element(By.CSS_SELECTOR, css)

    def finds(self, css: str) -> list[Any]:
        return list(self.driver.find_elements(By.CSS_SELECTOR, css))

    def text(self) -> str:
        """The page's visible text, read in one script call (safe while a page is being replaced)."""
        return str(self.driver.execute_script("return document.body ? document.body.innerText : ''"))

    def attr(self, css: str, name: str) -> str | None:
        """An attribute read in one script call (None while the element is absent, e.g. mid-navigation)."""
        value = self.driver.execute_script(
            "const e = document.querySelector(arguments[0]); return e ? e.getAttribute(arguments[1]) : null", css, name
        )
        return None if value is None else str(value)

    def wait(self, condition: Any, timeout: float = 15) -> Any:
        return WebDriverWait(self.driver, timeout).until(condition)

    def wait_for(self, css: str, timeout: float = 15) -> Any:
        return self.wait(lambda d: d.find_elements(By.CSS_SELECTOR, css), timeout)[0]

    def path(self) -> str:
        return str(self.driver.current_url).removeprefix(self.base)

    def sign_in(self, token: str) -> None:
        self.get("/console/login")
        self.axe()
        self.find("#token").send_keys(token)
        self.find("form[action='/console/login'] button").click()
        self.wait(lambda d: "/console/queue" in d.current_url)

    def sign_out(self) -> None:
        self.find("form[action='/console/logout'] button").click()
        self.wait(lambda d: "/console/login" in d.current_url)

    def axe(self, known: frozenset[str] = frozenset()) -> None:
        """axe-core on the page as it is now: no serious or critical violation (beyond ``known`` rule ids)."""
        self.driver.execute_script(AXE + "\nreturn true;")
        violations = self.driver.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations), e => done([String(e)]));"
        )
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3])
            for v in violations
            if isinstance(v, dict) and v.get("impact") in ("serious", "critical") and v["id"] not in known
        ]
        assert not [v for v in violations if isinstance(v, str)], violations
        assert bad == [], f"{self.path()}: {bad}"

    def screenshot(self, name: str, tmp: Path) -> Path:
        directory = Path(SCREENSHOTS) if SCREENSHOTS else tmp
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{name}.png"
        size = self.driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
        clip = {"x": 0, "y": 0, "width": size["width"], "height": min(size["height"], 3000), "scale": 1}
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "clip": clip}
        )
        target.write_bytes(base64.b64decode(shot["data"]))
        assert target.stat().st_size > 10_000  # a rendered page, not a blank one
        return target

    def cookies(self) -> dict[str, str]:
        return {c["name"]: c["value"] for c in self.driver.get_cookies()}


def browser_session(app: Litestar) -> Iterator[Browser]:
    need_browser()
    with LiveServer(app) as live:
        driver = chrome()
        try:
            yield Browser(driver, live.base)
        finally:
            driver.quit()
