"""Playwright fixtures for the web UI tests: Debian's Chromium, a signed-in page, screenshots.

The page fixture fails the test on any browser console error or uncaught script error. When
/usr/bin/chromium is missing the tests skip, except under CI (env `CI` set), where they fail:
`make test` installs Chromium, so CI must run them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SIGHTLINE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]
#: Where the test run writes a screenshot of each page, at desktop and phone widths.
SCREENSHOTS = Path(
    os.environ.get("SIGHTLINE_SCREENSHOTS", Path(__file__).resolve().parents[1] / "build" / "screenshots")
)
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[object]:
    """One Playwright per test process: a second `sync_playwright()` in the same process refuses to start
    (its event loop is already running), so every browser is launched from this one."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is missing (apt-get install -y chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the browser tests must run)")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


def launch_chromium(playwright_driver, extra_args: tuple[str, ...] = ()) -> object:
    return playwright_driver.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=[*CHROMIUM_ARGS, *extra_args]
    )


@pytest.fixture(scope="session")
def browser(playwright_driver) -> Iterator[object]:
    launched = launch_chromium(playwright_driver)
    yield launched
    launched.close()


class BrowserErrors(list):
    """Console errors and uncaught exceptions seen by a page, as readable lines."""

    def watch(self, page) -> None:
        page.on("console", lambda message: message.type == "error" and self.append(f"console: {message.text}"))
        page.on("pageerror", lambda error: self.append(f"uncaught: {error}"))


def open_page(browser, base_url: str, *, viewport: dict | None = None, javascript: bool = True):
    """A new browser context (own cookies) and page; returns (context, page, errors)."""
    context = browser.new_context(base_url=base_url, viewport=viewport or DESKTOP, java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors = BrowserErrors()
    errors.watch(page)
    return context, page, errors


def sign_in(page, training_key: str) -> None:
    """The link `sightline serve` prints: /login?token=KEY sets the session cookie."""
    page.goto(f"/login?token={training_key}")


def screenshot(page, name: str, *, phone: bool = True) -> list[Path]:
    """`name`.png at 1280 px (full page) and, unless `phone=False`, `name`-phone.png at 390 px."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    written = [SCREENSHOTS / f"{name}.png"]
    page.screenshot(path=str(written[0]), full_page=True)
    if phone:
        size = page.viewport_size
        page.set_viewport_size(PHONE)
        written.append(SCREENSHOTS / f"{name}-phone.png")
        page.screenshot(path=str(written[1]), full_page=True)
        page.set_viewport_size(size)
    return written


@pytest.fixture
def page(browser, web_server):
    """A signed-in page at 1280 px on the module's `web_server`; the test fails on any browser error."""
    context, opened, errors = open_page(browser, web_server.url)
    sign_in(opened, web_server.training_key)
    yield opened
    context.close()
    assert not errors, "the browser reported errors:\n" + "\n".join(errors)
