"""The dashboard and platform schemas: the Schema page (tenant admins: check, save, remove),
and the user page's editor (protected keys marked, staff may change them, schema errors
shown inline with nothing saved)."""
from __future__ import annotations

import json
import re

import pytest
from markupsafe import escape
from sqlalchemy import select

from tests.dashboard.conftest import csrf_token, login, post_form, refused_page
from tests.dashboard.test_user_page import document_url, etag_on_page, page_url, stored_document
from webapp.extensions import db
from webapp.metadata import platform as platform_docs
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, Platform

OPERATOR = Actor.system("cli", "tests")
SCHEMA = {"type": "object", "properties": {
    "plan": {"type": "string", "enum": ["free", "pro"], "readOnly": True},
    "theme": {"type": "string"}}}


@pytest.fixture
def client(web):
    return web


def schema_url(platform) -> str:
    return f"/admin/platforms/{platform.platform_key}/schema"


def current_schema(platform):
    db.session.expire_all()
    return schemas.get_schema(db.session.get(Platform, platform.id)).schema


def schema_events():
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "platform.schema").order_by(AuditEvent.id)))


@pytest.fixture
def seeded(tenants):
    """alice's document fails SCHEMA (plan is a number); carol's fits it."""
    platform_docs.replace_document(OPERATOR, tenants.alice, tenants.acme, {"plan": 3})
    platform_docs.replace_document(OPERATOR, tenants.carol, tenants.acme, {"plan": "free"})
    db.session.commit()
    return tenants


# --- the Schema page -----------------------------------------------------------------------


@pytest.mark.parametrize("who, status", [("acme_admin", 200), ("superadmin", 200),
                                         ("acme_support", 403), ("acme_member", 403),
                                         ("globex_admin", 404)])
def test_only_the_platforms_admins_open_the_schema_page(client, tenants, who, status):
    login(client, getattr(tenants, who))
    assert client.get(schema_url(tenants.acme)).status_code == status


def test_support_staff_cannot_save_a_schema(client, tenants):
    login(client, tenants.acme_support)
    response = post_form(client, schema_url(tenants.acme),
                         {"schema": json.dumps(SCHEMA), "action": "save"})
    assert response.status_code == 403
    assert current_schema(tenants.acme) is None


def test_check_shows_the_failing_documents_and_saves_nothing(client, seeded):
    login(client, seeded.acme_admin)
    # Shown at the page's own address (post/redirect/get), as a refused form is.
    page = refused_page(client, schema_url(seeded.acme),
                        {"schema": json.dumps(SCHEMA), "action": "check"}, schema_url(seeded.acme))
    assert "1 of 2 stored documents would fail this schema." in page
    rows = re.findall(r"<tr data-example>(.*?)</tr>", page, re.S)
    assert len(rows) == 2  # alice's plan is no string, nor one of the values
    assert all("Alice" in row and "/plan" in row for row in rows)
    assert escape("3 is not of type 'string'") in rows[0]
    assert current_schema(seeded.acme) is None
    assert schema_events() == []


def test_check_shows_at_most_twenty_examples(client, seeded):
    login(client, seeded.acme_admin)
    strict = {"type": "object", "required": [f"k{i:02d}" for i in range(25)]}
    page = refused_page(client, schema_url(seeded.acme),
                        {"schema": json.dumps(strict), "action": "check"})
    assert "2 of 2 stored documents would fail" in page
    assert len(re.findall(r"<tr data-example>", page)) == 20


def test_save_is_allowed_anyway_and_never_changes_stored_documents(client, seeded):
    login(client, seeded.acme_admin)
    response = post_form(client, schema_url(seeded.acme),
                         {"schema": json.dumps(SCHEMA), "action": "save"})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "1 of 2 stored documents do not validate" in page
    assert current_schema(seeded.acme) == SCHEMA
    assert stored_document(seeded.alice, seeded.acme) == {"plan": 3}
    events = schema_events()
    assert [(e.via, e.actor_label, e.changes) for e in events] == [
        ("dashboard", "acme-admin", {"schema": {"new": SCHEMA}})]
    replacement = {"type": "object"}
    post_form(client, schema_url(seeded.acme),
              {"schema": json.dumps(replacement), "action": "save"})
    assert schema_events()[-1].changes == {"schema": {"old": SCHEMA, "new": replacement}}
    post_form(client, schema_url(seeded.acme), {"action": "clear"})
    assert current_schema(seeded.acme) is None
    assert schema_events()[-1].changes == {"schema": {"old": replacement}}


@pytest.mark.parametrize("text, words", [
    ("{nope", "This is not valid JSON"),
    ('{"type": "array"}', 'must say "type": "object"'),
    ('{"type": "object", "properties": {"a": {"$ref": "https://example.com/x.json"}}}',
     "points outside the schema"),
    ('{"type": "object", "properties": {"a": {"type": 5}}}', "not a valid draft 2020-12 schema"),
])
@pytest.mark.parametrize("action", ["check", "save"])
def test_an_invalid_schema_is_refused_with_its_problem_and_changes_nothing(
        client, seeded, text, words, action):
    schemas.set_schema(OPERATOR, seeded.acme, SCHEMA)
    db.session.commit()
    login(client, seeded.acme_admin)
    page = refused_page(client, schema_url(seeded.acme), {"schema": text, "action": action},
                        schema_url(seeded.acme))
    assert escape(words) in page
    assert escape(text) in page  # the admin's text stays in the editor
    assert current_schema(seeded.acme) == SCHEMA
    assert len(schema_events()) == 1


def test_a_post_without_csrf_is_refused(client, seeded):
    login(client, seeded.acme_admin)
    response = client.post(schema_url(seeded.acme),
                           data={"schema": json.dumps(SCHEMA), "action": "save"})
    assert response.status_code == 400
    assert current_schema(seeded.acme) is None


# --- the user page's editor ----------------------------------------------------------------


@pytest.mark.parametrize("who", ["acme_support", "acme_admin", "superadmin"])
@pytest.mark.parametrize("kind", ["protected", "unprotected"])
@pytest.mark.parametrize("write", ["set", "remove"])
def test_staff_may_change_any_key_in_the_editor(client, seeded, who, kind, write):
    """The dashboard save of the matrix: staff may change protected keys; members have no
    dashboard at all (test_only_the_platforms_admins_open_the_schema_page)."""
    schemas.set_schema(OPERATOR, seeded.acme, SCHEMA)
    platform_docs.replace_document(OPERATOR, seeded.alice, seeded.acme,
                                   {"plan": "free", "theme": "dark"})
    db.session.commit()
    login(client, getattr(seeded, who))
    key = "plan" if kind == "protected" else "theme"
    document = {"plan": "free", "theme": "dark"}
    if write == "set":
        document[key] = "pro" if key == "plan" else "light"
    else:
        del document[key]
    response = post_form(client, document_url(seeded.alice, seeded.acme), {
        "metadata": json.dumps(document), "etag": etag_on_page(client, seeded.alice, seeded.acme)})
    assert response.status_code == 302, response.get_data(as_text=True)[:3000]
    assert stored_document(seeded.alice, seeded.acme) == document


def test_the_editor_marks_protected_keys_and_a_stored_document_that_fails(client, seeded):
    schemas.set_schema(OPERATOR, seeded.acme, SCHEMA)
    db.session.commit()
    login(client, seeded.acme_support)
    page = client.get(page_url(seeded.alice)).get_data(as_text=True)
    marks = re.search(r"<p [^>]*data-protected-keys>(.*?)</p>", page, re.S)
    assert marks and "plan" in marks.group(1) and "theme" not in marks.group(1)
    problems = re.search(r"data-stored-problems>(.*?)</div>", page, re.S)
    assert problems and escape("/plan: 3 is not of type 'string'") in problems.group(1)
    carol = client.get(page_url(seeded.carol)).get_data(as_text=True)
    assert "data-stored-problems" not in carol.split('id="platform-globex"')[0]


def test_a_save_that_fails_the_schema_shows_why_inline_and_saves_nothing(client, seeded):
    schemas.set_schema(OPERATOR, seeded.acme, SCHEMA)
    db.session.commit()
    login(client, seeded.acme_support)
    text = json.dumps({"plan": "gold", "theme": 7})
    response = post_form(client, document_url(seeded.alice, seeded.acme), {
        "metadata": text, "etag": etag_on_page(client, seeded.alice, seeded.acme)})
    assert response.status_code == 303  # back to the user page, the refused text kept
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "does not fit Acme Corp&#39;s schema (2 problems below)" in page
    listed = re.search(r"data-schema-problems>(.*?)</ul>", page, re.S).group(1)
    assert re.findall(r'<li class="mono">(.*?)</li>', listed) == [
        escape("/plan: 'gold' is not one of ['free', 'pro']"),
        escape("/theme: 7 is not of type 'string'"),
    ]
    assert stored_document(seeded.alice, seeded.acme) == {"plan": 3}


def test_the_schema_tab_is_in_the_platform_header(client, tenants):
    login(client, tenants.acme_admin)
    page = client.get(f"/admin/platforms/{tenants.acme.platform_key}/tokens").get_data(as_text=True)
    assert f'href="{schema_url(tenants.acme)}"' in page
    assert csrf_token(client, schema_url(tenants.acme))
