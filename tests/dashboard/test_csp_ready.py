"""Every HTML page the app renders works under a Content-Security-Policy without
'unsafe-inline' (`script-src 'self'; style-src 'self'`): no inline <script> or <style>, no
event handler attributes, no style="" attributes, no javascript: URLs, and scripts and
stylesheets only from the app's own /static/. The browser tests load the main pages under
the real header; this walks every page and state, each role's."""
from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlencode

import pytest

from tests.dashboard.conftest import login, post_form
from tests.dashboard.test_permissions import pages
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as platform_docs
from webapp.metadata.audit import Actor

SETUP = Actor.system("cli", "setup")


class InlineCode(HTMLParser):
    """Collects what a strict CSP would refuse to run or apply."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=…> (inline event handler)")
            elif name == "style":
                self.problems.append(f"<{tag} style=…> (inline style)")
            elif (name in ("href", "src", "action", "formaction")
                  and (value or "").strip().lower().startswith("javascript:")):
                self.problems.append(f"<{tag} {name}=javascript:…>")
        if tag == "script" and not attributes.get("src"):
            self.problems.append("<script> without src (inline script)")
        if tag == "script" and attributes.get("src") and not attributes["src"].startswith("/static/"):
            self.problems.append(f"<script src={attributes['src']}> (not the app's own)")
        if tag == "style":
            self.problems.append("<style> element (inline style)")
        if (tag == "link" and "stylesheet" in (attributes.get("rel") or "")
                and not (attributes.get("href") or "").startswith("/static/")):
            self.problems.append(f"<link href={attributes.get('href')}> (not the app's own)")


def problems(page: str) -> list[str]:
    parser = InlineCode()
    parser.feed(page)
    parser.close()
    return parser.problems


def test_the_check_finds_what_a_strict_policy_refuses():
    page = ('<input onfocus="this.select()"><p style="color: red"></p><script>alert(1)</script>'
            '<style>p {}</style><a href="javascript:void(0)">x</a>'
            '<script src="https://cdn.example/x.js"></script>')
    assert len(problems(page)) == 6
    assert problems('<script src="/static/js/app.js"></script><p data-confirm="Sure?"></p>') == []


def shown_after(web, response):
    """The page a refused form leads to (post/redirect/get): its own page with the draft."""
    assert response.status_code == 303, response.status_code
    return web.get(response.headers["Location"])


def collect(response, label: str, found: dict[str, list[str]], status: int = 200) -> None:
    assert response.status_code == status, f"{label}: {response.status_code}"
    assert "text/html" in response.content_type, label
    page = response.get_data(as_text=True)
    assert "/static/js/app.js" in page, f"{label}: the site's script is not loaded"
    if found_here := problems(page):
        found[label] = found_here


@pytest.fixture
def data(world):
    """Alice with a document and keys, so the user page shows every part; audited."""
    platform_docs.replace_document(SETUP, world.alice, world.acme, {"plan": "free"})
    per_client.put_entry(SETUP, world.alice, world.acme_client, "theme", {"value": "dark"})
    per_client.put_entry(SETUP, world.alice, world.acme_client, "long", {"value": "x" * 500})
    db.session.commit()
    return world


@pytest.mark.parametrize("role", ["root", "acme_admin", "acme_support"])
def test_every_dashboard_page_a_role_opens_is_free_of_inline_code(web, data, role):
    w, found = data, {}
    collect(web.get("/login"), "login", found)
    login(web, getattr(w, role))
    alice, cid = w.alice.id, w.acme_client.id
    urls = [url for _, url, expected in pages(w)]
    urls += [f"/admin/users/{alice}?edit={cid}:long", "/admin/users?q=a",
             "/admin/audit?user=alice", "/admin/no-such-page", "/api/docs"]
    for url in urls:
        response = web.get(url)
        assert response.status_code in (200, 403, 404), f"{url}: {response.status_code}"
        collect(response, url, found, response.status_code)
    assert not found, found


def test_pages_after_a_form_is_sent_are_free_of_inline_code(web, data):
    w, found = data, {}
    login(web, w.acme_admin)
    alice, client = w.alice, w.acme_client
    base = f"/admin/users/{alice.id}"
    # A refused document, a stale one, a refused key (each shown on the user page), a
    # missing token (400)
    collect(shown_after(web, post_form(web, f"{base}/platforms/acme/metadata",
                                       {"metadata": "[1]", "etag": '"x"'})),
            "refused document", found)
    etag = platform_docs.get_document(alice, w.acme).etag
    platform_docs.replace_document(SETUP, alice, w.acme, {"plan": "theirs"})
    db.session.commit()
    collect(shown_after(web, post_form(web, f"{base}/platforms/acme/metadata",
                                       {"metadata": "{}", "etag": etag})),
            "conflict", found)
    collect(shown_after(web, post_form(web, f"{base}/clients/{client.id}/entries",
                                       {"key": "bad key", "value": ""})),
            "refused key", found)
    collect(web.post(f"{base}/clients/{client.id}/entries", data={"key": "k", "value": "v"}),
            "no CSRF token", found, 400)
    collect(post_form(web, f"{base}/platforms/acme/metadata",
                      {"metadata": "x" * (1024 * 1024 + 1), "etag": etag}), "too large", found, 413)
    # Platform administration: refused forms and the one-time secrets
    collect(shown_after(web, post_form(web, "/admin/platforms/acme/members",
                                       {"username": "ghost", "role": "member"})),
            "refused member", found)
    collect(post_form(web, "/admin/platforms/acme/clients",
                      {"name": "New", "redirect_uris": "https://new.example/cb",
                       "scope": ["metadata.read"], "grant_types": ["authorization_code"]}),
            "new client secret", found)
    collect(post_form(web, f"/admin/platforms/acme/clients/{client.id}/rotate"),
            "rotated secret", found)
    collect(post_form(web, "/admin/platforms/acme/tokens", {"username": "alice"}),
            "new token", found)
    assert not found, found


def test_pages_outside_the_dashboard_are_free_of_inline_code(web, data):
    w, found = data, {}
    login(web, w.acme_member)
    collect(web.get("/admin/"), "no dashboard access", found, 403)
    consent = "/oauth/authorize?" + urlencode({
        "response_type": "code", "client_id": w.acme_client.client_id, "state": "s",
        "redirect_uri": "https://app.example.test/callback", "scope": "metadata.read"})
    collect(web.get(consent), "consent", found)
    collect(web.get("/oauth/authorize?response_type=code&client_id=no-such-client"),
            "authorization error", found, 400)
    assert not found, found
