"""/admin/users?q= with metadata terms: beside free text, scoped as the search is, values shown."""
from __future__ import annotations

import html
import re

import pytest
from markupsafe import escape

from tests.dashboard.conftest import login
from tests.dashboard.test_search import found
from tests.factories import FACTORY
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.models import PlatformDocument


@pytest.fixture
def client(web):
    return web


@pytest.fixture
def docs(tenants):
    """alice: pro on acme; carol: free on acme, pro on globex; bob: pro on globex."""
    for user, platform, data in (
        (tenants.alice, tenants.acme, {"plan": "pro", "features": {"beta": True}, "seats": 5,
                                       "note": "<b>bold</b>"}),
        (tenants.carol, tenants.acme, {"plan": "free", "features": {"beta": "true"}}),
        (tenants.carol, tenants.globex, {"plan": "pro", "seats": 5.0}),
        (tenants.bob, tenants.globex, {"plan": "pro", "features": {"beta": True}}),
    ):
        documents.replace_document(FACTORY, user, platform, data)
    db.session.commit()
    return tenants


def matched_cells(client, **params) -> dict[str, str]:
    """username -> the text of its Matched cell."""
    page = client.get("/admin/users", query_string=params).get_data(as_text=True)
    rows = re.findall(r'<span[^>]*>([^<]+)</span></a></td>.*?<td class="matched">(.*?)</td>',
                      page, re.S)
    return {name: " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())
            for name, cell in rows}


def test_terms_are_scoped_as_the_search_is(client, docs):
    login(client, docs.acme_admin)
    assert found(client, q="plan:pro") == ["Alice"]  # carol is pro on globex only
    login(client, docs.acme_support)
    assert found(client, q="plan:pro") == ["Alice"]
    login(client, docs.globex_admin)
    assert found(client, q="plan:pro") == ["bob", "carol"]
    login(client, docs.superadmin)
    assert found(client, q="plan:pro") == ["Alice", "bob", "carol"]
    assert found(client, q="plan:pro", platform="acme") == ["Alice"]
    assert found(client, q="plan:free", platform="globex") == []


def test_json_types_and_nested_paths(client, docs):
    login(client, docs.superadmin)
    assert found(client, q="features.beta:true") == ["Alice", "bob"]
    assert found(client, q='features.beta:"true"') == ["carol"]
    assert found(client, q="seats:5") == ["Alice", "carol"]  # 5 and 5.0
    assert found(client, q='seats:"5"') == []
    assert found(client, q="features.beta:*") == ["Alice", "bob", "carol"]
    assert found(client, q="features:*", platform="globex") == ["bob"]


def test_free_text_and_terms_together(client, docs):
    login(client, docs.superadmin)
    assert found(client, q="ali plan:pro") == ["Alice"]
    assert found(client, q="car plan:pro") == ["carol"]
    assert found(client, q="example.com plan:pro") == ["Alice", "carol"]  # an email part
    assert found(client, q="bob plan:free") == []
    login(client, docs.acme_admin)
    assert found(client, q="car plan:pro") == []  # carol's pro document is globex's


def test_a_term_and_the_document_match_together(client, docs):
    """Both terms must match one document: carol is free on acme and pro with seats on globex."""
    login(client, docs.superadmin)
    assert found(client, q="plan:pro seats:5") == ["Alice", "carol"]
    assert found(client, q="plan:free seats:5") == []


def test_the_matched_values_are_shown_beside_each_user(client, docs):
    login(client, docs.superadmin)
    cells = matched_cells(client, q="features.beta:* seats:*")
    # bob and carol have each key, but never both in one document
    assert cells == {"Alice": "acme features.beta = true · seats = 5"}
    cells = matched_cells(client, q="plan:pro", platform="globex")
    assert cells == {"bob": 'plan = "pro"', "carol": 'plan = "pro"'}  # one platform: no pill
    cells = matched_cells(client, q="note:*")
    assert cells == {"Alice": 'acme note = "<b>bold</b>"'}
    page = client.get("/admin/users", query_string={"q": "note:*"}).get_data(as_text=True)
    assert "<b>bold</b>" not in page  # shown as text


def test_no_matched_column_without_terms(client, docs):
    login(client, docs.superadmin)
    page = client.get("/admin/users", query_string={"q": "ali"}).get_data(as_text=True)
    assert "Matched" not in page
    assert found(client, q="ali") == ["Alice"]


def test_a_former_member_is_not_found_by_the_document_left_behind(client, docs):
    accounts.remove_membership(FACTORY, docs.acme, docs.alice)
    db.session.commit()
    login(client, docs.superadmin)
    assert found(client, q="features.beta:true") == ["bob"]


def test_the_search_box_explains_the_syntax(client, docs):
    login(client, docs.acme_admin)
    page = client.get("/admin/users").get_data(as_text=True)
    assert ("Words match usernames and emails; <code>key:value</code> terms match metadata "
            "(dotted paths, JSON values, <code>key:*</code> for any value), e.g. "
            "<code>ali plan:pro features.beta:true</code>.") in page


@pytest.mark.parametrize(("q", "message"), [
    ("plan:", "'plan:': the value is missing; write plan:* for any value or plan:\"\" for "
              "the empty string"),
    ("ali tags:[1]", "'tags:[1]': arrays and objects cannot be searched as values; search a "
                     "key inside an object with a dotted path, e.g. features.beta:true"),
    ('name:"Ada', "'name:\"Ada': the quote is not closed"),
])
def test_a_malformed_term_is_explained_and_finds_nobody(client, docs, q, message):
    login(client, docs.superadmin)
    before = [(d.user_id, d.platform_id, d.version) for d in
              db.session.scalars(db.select(PlatformDocument))]
    response = client.get("/admin/users", query_string={"q": q})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert f'<p class="field-error" id="q-error" role="alert">{escape(message)}</p>' in page
    assert "users-table" not in page
    assert f'value="{escape(q)}"' in page  # kept in the box, to be corrected
    assert [(d.user_id, d.platform_id, d.version) for d in
            db.session.scalars(db.select(PlatformDocument))] == before
