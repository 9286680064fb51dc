"""Browser tests: Playwright for Python driving Debian's Chromium against `live_server`.

The browser is the system's /usr/bin/chromium; Playwright's own browser download is never
used. Data set up by a test must be committed (the server is another process), and on
SQLite the test's session must not hold a transaction while the browser acts, since every
transaction there takes the write lock: set up, read what the test needs, then commit.

Every page the `page` fixture loads carries the Content-Security-Policy the app is to send
(scripts and styles from the site only: no inline script, handler or style attribute), and
a test fails if the browser refused anything under it.
"""
from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
# What the app will answer with. `img-src data:` is for the editor's lint markers, which
# CodeMirror's lint.css draws as data: images.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is not installed: run `make browser` (make test does)")
    from playwright.sync_api import sync_playwright

    playwright = sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    yield browser
    browser.close()
    playwright.stop()


def with_csp(route) -> None:
    """Pass the request on; give an HTML page the CSP header (redirects reach the browser as such)."""
    if route.request.resource_type != "document":
        route.continue_()
        return
    response = route.fetch(max_redirects=0)
    route.fulfill(response=response,
                  headers={**response.headers, "content-security-policy": CSP})


@pytest.fixture
def csp_violations():
    """What the browser refused under the CSP (its console reports each refusal)."""
    return []


@pytest.fixture
def page(chromium, csp_violations):
    """A fresh browser context (no cookies) at a laptop's screen size, under the CSP."""
    context = chromium.new_context(viewport={"width": 1366, "height": 860})
    context.set_default_timeout(10_000)
    context.route("**/*", with_csp)
    page = context.new_page()
    page.on("console", lambda message: csp_violations.append(message.text)
            if "Content Security Policy" in message.text else None)
    yield page
    context.close()
    assert csp_violations == [], "the page broke the Content-Security-Policy"


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
