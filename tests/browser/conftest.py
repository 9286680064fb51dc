"""Browser tests: Playwright for Python driving Debian's Chromium against `live_server`.

The browser is the system's /usr/bin/chromium; Playwright's own browser download is never
used. Data set up by a test must be committed (the server is another process), and on
SQLite the test's session must not hold a transaction while the browser acts, since every
transaction there takes the write lock: set up, read what the test needs, then commit.

Every page carries the app's own Content-Security-Policy (webapp.http: scripts and styles
from the site only, no inline script, handler or style attribute); a test fails if the
browser refused anything under it, or if a page came without the policy.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from webapp.http import CONTENT_SECURITY_POLICY

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
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


def without_the_policy(response) -> bool:
    """A page of the app served without its Content-Security-Policy."""
    return (response.request.resource_type == "document" and response.status < 300
            and response.headers.get("content-security-policy") != CONTENT_SECURITY_POLICY)


@pytest.fixture
def csp_violations():
    """What the browser refused under the CSP (its console reports each refusal)."""
    return []


@pytest.fixture
def sized_page(chromium, csp_violations):
    """Fresh browser contexts (no cookies) at a given screen width, under the app's CSP:
    `sized_page(390)` is a phone, `sized_page(1280)` a laptop."""
    contexts = []

    def open_page(width: int, height: int = 860):
        context = chromium.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.on("response", lambda response: csp_violations.append(f"no policy: {response.url}")
                if without_the_policy(response) else None)
        page.on("console", lambda message: csp_violations.append(message.text)
                if "Content Security Policy" in message.text else None)
        return page

    yield open_page
    for context in contexts:
        context.close()
    assert csp_violations == [], "the page broke the Content-Security-Policy"


@pytest.fixture
def page(sized_page):
    """A fresh browser context (no cookies) at a laptop's screen size, under the app's CSP."""
    return sized_page(1366)


@pytest.fixture(scope="session")
def screenshot():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(page, name: str, full_page: bool = True) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=full_page)
        return path

    return take
