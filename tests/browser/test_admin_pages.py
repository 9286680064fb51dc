"""Platform administration, the superadmin page and the error pages in a real browser, under
the app's Content-Security-Policy (see conftest): destructive buttons ask first, the one-time
secret selects itself, long values stay readable, and every page is kept as a screenshot."""
from __future__ import annotations

import re

import pytest
import requests
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import API, sign_in
from tests.dashboard.conftest import Tenants
from tests.factories import bearer_token, make_api_token, make_client
from webapp.extensions import db
from webapp.metadata import per_client

pytestmark = pytest.mark.browser

LONG_URI = ("https://integrations.example-enterprise-customer.test/oauth2/v1/callbacks/"
            "metadata-service/acme-production-environment/complete")
LONG_VALUE = "".join(f"line {n:04d} of a long exported setting; " for n in range(150))
MULTILINE = "first line\nsecond line\n\nfourth line"


@pytest.fixture
def world(app):
    """Two tenants with a client that has long redirect URIs, tokens, and Alice's long values."""
    tenants = Tenants()
    wide, _ = make_client(tenants.acme, name="Acme integrations gateway",
                          redirect_uris=(LONG_URI, "https://app.example.test/oauth/callback",
                                         "http://localhost:8080/callback"),
                          grant_types=("authorization_code", "refresh_token",
                                       "client_credentials"))
    make_api_token(tenants.alice)
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "export", {"value": LONG_VALUE})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "note", {"value": MULTILINE})
    per_client.put_entry(API, tenants.alice, tenants.acme_client, "theme",
                         {"value": "dark", "expires_at": "2099-01-02T03:04:05Z"})
    values = {
        "alice_id": tenants.alice.id,
        "carol_id": tenants.carol.id,
        "client_id": tenants.acme_client.id,
        "wide_client_id": wide.id,
        "alice_bearer": bearer_token(tenants.acme_client, tenants.alice),
    }
    db.session.commit()
    return values


def answer_next_dialog(page: Page, accept: bool) -> list[str]:
    """Answer the next confirm() the page asks; the list receives its question."""
    asked: list[str] = []

    def answer(dialog):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", answer)
    return asked


def test_signing_in_and_the_error_pages(page, live_server, world, screenshot):
    base = live_server
    page.goto(f"{base}/login")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    screenshot(page, "login")

    # A plain member: told plainly, offered nothing that leads back here.
    sign_in(page, base, "acme-member")
    expect(page.locator("h1")).to_have_text("Your account has no dashboard access")
    expect(page.locator("header.topbar a")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("link", name="Go to the dashboard")).to_have_count(0)
    screenshot(page, "error-403-no-dashboard")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(f"{base}/login")

    sign_in(page, base, "acme-admin")
    page.goto(f"{base}/admin/platforms/no-such")
    expect(page.locator("h1")).to_have_text("Page not found")
    expect(page.get_by_role("link", name="Go to the dashboard")).to_be_visible()
    screenshot(page, "error-404")


def test_a_tenant_admin_manages_members_clients_and_tokens(page, live_server, world,
                                                           screenshot):
    base = live_server
    sign_in(page, base, "acme-admin")

    # Members: removing asks first, and nothing happens until the admin agrees.
    page.goto(f"{base}/admin/platforms/acme")
    screenshot(page, "platform-members")
    carol = page.locator('tr[data-member="carol"]')
    asked = answer_next_dialog(page, accept=False)
    carol.get_by_role("button", name="Remove carol").click()
    expect(carol).to_be_visible()
    assert asked and asked[0].startswith("Remove carol from Acme Corp?")
    answer_next_dialog(page, accept=True)
    carol.get_by_role("button", name="Remove carol").click()
    expect(page.locator(".flash-success")).to_have_text("carol is no longer a member of Acme Corp.")
    expect(carol).to_have_count(0)

    # OAuth clients: the register form above the list, as on the other tabs.
    page.goto(f"{base}/admin/platforms/acme/clients")
    form_top = page.locator("#register").bounding_box()["y"]
    list_top = page.locator("table.clients-table").bounding_box()["y"]
    assert form_top < list_top
    wide = page.locator(f'tr[data-client="{world["wide_client_id"]}"]')
    # Short identifiers are never cut in the middle; a long URI may wrap.
    assert_one_line(wide.locator(".client-id"))
    assert_one_line(wide.locator("td.scopes div"))
    screenshot(page, "platform-clients")

    # Rotating a secret asks first; then the new secret is shown once, selected on focus.
    wide.get_by_role("link", name="Edit").click()
    grants = page.locator("dl.facts .grant")
    expect(grants).to_have_text(["authorization_code", "refresh_token", "client_credentials"])
    assert_one_line(grants)
    asked = answer_next_dialog(page, accept=False)
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="Rotate the secret")).to_be_visible()
    assert asked and asked[0].startswith("Rotate the secret of Acme integrations gateway?")
    answer_next_dialog(page, accept=True)
    page.get_by_role("button", name="Rotate secret").click()
    expect(page.get_by_role("heading", name="New secret for Acme integrations gateway")).to_be_visible()
    secret = page.locator("#secret-value")
    secret.focus()
    assert page.evaluate("() => { const s = document.getElementById('secret-value');"
                         " return s.selectionStart === 0 && s.selectionEnd === s.value.length"
                         " && s.value.length > 20; }")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    page.get_by_role("button", name="Copy").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("() => navigator.clipboard.readText()") == secret.input_value()
    screenshot(page, "client-secret")

    # API tokens: create one (shown once), then revoking asks first.
    page.goto(f"{base}/admin/platforms/acme/tokens")
    page.fill("#username", "alice")
    page.fill("#name", "CRM sync")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="API token for Alice · CRM sync")).to_be_visible()
    screenshot(page, "token-secret")
    page.get_by_role("link", name="Done").click()
    made_here = page.locator("table.tokens-table tbody tr", has_text="CRM sync")
    expect(made_here).to_contain_text("active")
    screenshot(page, "platform-tokens")
    asked = answer_next_dialog(page, accept=False)
    made_here.get_by_role("button", name=re.compile("^Revoke token")).click()
    expect(made_here).to_contain_text("active")
    assert asked and asked[0].startswith("Revoke token") and "of Alice?" in asked[0]
    answer_next_dialog(page, accept=True)
    made_here.get_by_role("button", name=re.compile("^Revoke token")).click()
    expect(page.locator(".flash-success")).to_contain_text("is revoked")
    expect(made_here).to_contain_text("revoked")


def test_a_refused_form_on_a_platform_page_survives_a_reload(page, live_server, world, screenshot):
    """Post/redirect/get: the refusal is shown at the page's own address, so reloading it
    asks nothing, resends nothing and shows the same (never a 405)."""
    base = live_server
    sign_in(page, base, "acme-admin")
    asked: list[str] = []
    page.on("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.goto(f"{base}/admin/platforms/acme/tokens")
    page.fill("#username", "ghost <b>bold</b>")
    page.fill("#name", "typed label")
    page.get_by_role("button", name="Create token").click()
    expect(page).to_have_url(re.compile(r"/admin/platforms/acme/tokens\?draft=[\w-]+#new-token$"))
    message = "Acme Corp has no member named “ghost <b>bold</b>”."
    for _ in range(2):  # as sent, then after a reload
        expect(page.locator("#new-token .field-error")).to_have_text(message)  # as text
        expect(page.locator("#new-token b")).to_have_count(0)
        expect(page.locator("#username")).to_have_value("ghost <b>bold</b>")
        expect(page.locator("#name")).to_have_value("typed label")
        reloaded = page.reload()
        assert (reloaded.status, reloaded.request.method) == (200, "GET")
    screenshot(page, "token-refused")

    # The client's settings: refused, reloaded, then corrected and saved.
    url = f"{base}/admin/platforms/acme/clients/{world['client_id']}"
    page.goto(url)
    page.fill("#redirect_uris", "not a uri")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(url)}\?draft=[\w-]+#settings$"))
    expect(page.locator("#settings")).to_contain_text("is not an absolute http(s) URI")
    assert page.reload().status == 200
    expect(page.locator("#redirect_uris")).to_have_value("not a uri")
    page.fill("#redirect_uris", "https://app.example.test/oauth/callback")
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator(".flash-success")).to_have_text("Saved the settings of Acme Mobile.")
    expect(page).to_have_url(url)
    assert asked == []


def test_the_superadmin_page_and_an_empty_platform(page, live_server, world, screenshot):
    base = live_server
    sign_in(page, base, "root")
    page.goto(f"{base}/admin/superadmin")
    expect(page.get_by_role("heading", name="New platform")).to_be_visible()
    screenshot(page, "superadmin")
    page.goto(f"{base}/admin/platforms/globex/tokens")
    expect(page.locator(".empty-state")).to_contain_text("No API tokens yet.")
    screenshot(page, "empty-tokens")


def test_long_and_multiline_values_on_the_user_page(page, live_server, world, screenshot):
    base, cid = live_server, world["client_id"]
    sign_in(page, base, "acme-support")
    page.goto(f"{base}/admin/users/{world['alice_id']}")
    export = page.locator(f'#client-{cid} tr[data-key="export"]')
    expect(export.locator(".value-cell")).to_have_text(LONG_VALUE[:200] + "…")
    expect(export).to_contain_text(f"{len(LONG_VALUE):,} characters in all")
    assert_one_line(page.locator(f'#client-{cid} tr[data-key="theme"] td').nth(2))
    # The editor works under the CSP: highlighting, and the live check.
    expect(page.locator("#platform-acme .CodeMirror")).to_be_visible()
    expect(page.locator("#platform-acme .json-status")).to_have_text("Valid JSON object.")
    screenshot(page, "user-long-values")

    # The audit trail keeps dates and keys whole, wrapping JSON values at their spaces.
    runs = page.locator("#audit-trail .run-short")
    expect(runs.first).to_be_visible()
    assert_one_line(runs)

    # The Edit form holds the whole value; saving it unchanged keeps it exactly, newlines too.
    page.locator(f'#client-{cid} tr[data-key="note"]').get_by_role("link", name="Edit").click()
    expect(page.locator(f"#edit-value-{cid}")).to_have_value(MULTILINE)
    page.get_by_role("button", name="Save key").click()
    expect(page.locator(".flash-success")).to_have_text("Saved “note” for Acme Mobile.")
    page.locator(f'#client-{cid} tr[data-key="export"]').get_by_role("link", name="Edit").click()
    expect(page.locator(f"#edit-value-{cid}")).to_have_value(LONG_VALUE)
    response = requests.get(f"{base}/api/v2/metadata/note",
                            headers={"Authorization": f"Bearer {world['alice_bearer']}"},
                            timeout=10)
    assert response.json()["value"] == MULTILINE


def assert_one_line(locator) -> None:
    """Each element the locator finds lays its text out on one line (its text boxes share one
    line top). One round trip for all of them: one per element made a page of audit events
    take seconds."""
    expect(locator.first).to_be_attached()
    found = locator.evaluate_all(
        "els => els.map(el => { const range = document.createRange(); range.selectNodeContents(el);"
        " return [el.innerText, [...range.getClientRects()].filter(r => r.width > 0)"
        "   .map(r => Math.round(r.top))]; })")
    for text, tops in found:
        assert tops and max(tops) - min(tops) < 4, f"{text!r} wraps: line tops {tops}"



# --- Every admin page at a phone's width and a laptop's --------------------------------------

ADMIN_PAGES = [  # (name, address, the navigation's current section)
    ("home", "/admin/", "Home"),
    ("users", "/admin/users?q=a", "Users"),
    ("user", "/admin/users/{alice_id}", "Users"),
    ("user-edit", "/admin/users/{alice_id}?edit={client_id}:export", "Users"),
    ("platforms", "/admin/platforms", "Platforms"),
    ("members", "/admin/platforms/acme", "Platforms"),
    ("clients", "/admin/platforms/acme/clients", "Platforms"),
    ("client", "/admin/platforms/acme/clients/{wide_client_id}", "Platforms"),
    ("tokens", "/admin/platforms/acme/tokens", "Platforms"),
    ("audit", "/admin/audit", "Audit log"),
    ("superadmin", "/admin/superadmin", "Administration"),
]


def page_overflow(page: Page) -> int:
    """How far the page itself scrolls sideways, in pixels (0: it does not)."""
    return page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")


def too_wide(page: Page) -> list[str]:
    """The elements that reach past the right edge of the screen, unclipped (for the message)."""
    return page.evaluate("""() => {
      const edge = document.documentElement.clientWidth + 1;
      const clipped = e => {
        for (let a = e.parentElement; a && a !== document.body; a = a.parentElement) {
          if (getComputedStyle(a).overflowX !== "visible"
              && getComputedStyle(e).position !== "absolute") { return true; }
        }
        return false;
      };
      return [...document.querySelectorAll("body *")]
        .filter(e => e.getBoundingClientRect().right > edge && !clipped(e))
        .slice(0, 20)
        .map(e => `${e.tagName}.${e.className} ${Math.round(e.getBoundingClientRect().right)}`);
    }""")


def assert_inside_the_top_bar(page: Page, locator) -> None:
    bar = page.locator("header.topbar").bounding_box()
    box = locator.bounding_box()
    width = page.viewport_size["width"]
    assert box["x"] >= 0 and box["x"] + box["width"] <= width, box
    assert bar["y"] <= box["y"] and box["y"] + box["height"] <= bar["y"] + bar["height"], (box, bar)


@pytest.mark.parametrize("width", [390, 1280])
def test_every_admin_page_fits_the_screen(sized_page, live_server, world, screenshot, width):
    page = sized_page(width)
    base = live_server
    sign_in(page, base, "root")
    nav = page.locator("nav.mainnav")
    toggle = page.get_by_role("button", name="Menu")
    for name, address, section in ADMIN_PAGES:
        page.goto(base + address.format(**world))
        screenshot(page, f"{'narrow' if width < 760 else 'wide'}-{name}")
        assert page_overflow(page) == 0, f"{name} at {width} px scrolls sideways: {too_wide(page)}"
        current = nav.locator('a[aria-current="page"]')
        expect(current).to_have_count(1)
        expect(current).to_have_text(section)
        # The username and Sign out stay in the dark top bar, readable.
        assert_inside_the_top_bar(page, page.get_by_role("button", name="Sign out"))
        assert_inside_the_top_bar(page, page.locator(".who"))
        if width < 760:
            # The navigation folds behind the Menu button.
            expect(nav).to_be_hidden()
            expect(toggle).to_have_attribute("aria-expanded", "false")
            toggle.click()
            expect(nav).to_be_visible()
            expect(toggle).to_have_attribute("aria-expanded", "true")
            if name == "home":
                screenshot(page, "narrow-menu-open")
            assert_inside_the_top_bar(page, current)
            assert page_overflow(page) == 0
        else:
            expect(toggle).to_be_hidden()
            expect(nav).to_be_visible()

    # A wide table scrolls inside its own box on a phone, never the page.
    page.goto(f"{base}/admin/platforms/acme/clients")
    table = page.locator("table.clients-table")
    scrolls = table.evaluate("t => t.scrollWidth > t.clientWidth")
    assert scrolls == (width < 760)
    assert page_overflow(page) == 0


@pytest.mark.parametrize("width", [390, 1280])
def test_the_pages_outside_the_dashboard_fit_the_screen(sized_page, live_server, world,
                                                         screenshot, width):
    page = sized_page(width)
    base = live_server
    for name, address in (("login", "/login"), ("api-docs", "/api/docs"),
                          ("not-found", "/admin/no-such-page")):
        page.goto(base + address)
        assert page_overflow(page) == 0, f"{name} at {width} px scrolls sideways"
        # The reference is tens of thousands of pixels long: its first screen is enough.
        screenshot(page, f"{'narrow' if width < 760 else 'wide'}-{name}",
                   full_page=name != "api-docs")
    # The app serves its own icon: no 404 in every page's log.
    assert page.request.get(f"{base}/favicon.ico").status == 200
    icon = page.locator('link[rel="icon"]').get_attribute("href")
    assert page.request.get(base + icon).headers["content-type"].startswith("image/svg+xml")
