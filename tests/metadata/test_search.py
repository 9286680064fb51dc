"""The search's two plans, without HTTP: each alone gives the same answer as the other."""
from __future__ import annotations

import pytest

from tests.factories import FACTORY, add_member, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import search
from webapp.metadata.search_terms import parse


@pytest.fixture
def crowd(app):
    """30 members of acme with varied documents, 5 of globex, and one former member."""
    acme, globex = make_platform("acme"), make_platform("globex")
    for n in range(30):
        user = make_user(f"u{n:02d}", password="")
        add_member(acme, user)
        documents.replace_document(FACTORY, user, acme, {
            "plan": "pro" if n % 2 else "free", "seats": n % 7, "rare": n == 17 or None,
            "nested": {"flag": n % 3 == 0, **({"deep": {"er": n}} if n % 4 == 0 else {})},
            "list": [{"in": n}], **({"tier": "gold"} if n % 5 == 0 else {})})
    for n in range(5):
        user = make_user(f"g{n}", password="")
        add_member(globex, user)
        documents.replace_document(FACTORY, user, globex, {"plan": "pro", "seats": 1})
    db.session.commit()
    return acme


def run(statement) -> list[str]:
    return [row.sort_key for row in db.session.execute(statement)]


def test_the_walk_and_the_index_agree(crowd):
    expected = {"plan:pro": 15, "seats:1": 5, "seats:1.0": 5, "rare:true": 1, "rare:null": 29,
                "nested.flag:true": 10, "tier:*": 6, "nested.flag:* plan:free": 15,
                "nested.deep.er:*": 8, "nested.deep:* tier:*": 2, "list:*": 30, "list.in:*": 0,
                "plan.x:*": 0, "plan:none": 0}
    for q, count in expected.items():
        for after in (None, "u05", "u28"):
            query = parse(q)
            walked = run(search.walk_statement(crowd, query, after, 1000))
            indexed = run(search.index_statement(crowd, query, after, 1000))
            assert walked == indexed, (q, after)
            assert all(name.startswith("u") for name in walked)  # acme's members only
            assert all(after is None or name > after for name in walked)
            if after is None:
                assert len(walked) == count, q


def test_a_short_walk_falls_back_to_the_index(crowd, monkeypatch):
    monkeypatch.setattr(search, "WALK_PER_ROW", 1)  # the walk reads 3 users for a page of 2
    page = search.search_platform(crowd, parse("rare:true"), after=None, limit=2)
    assert [hit.username for hit in page.hits] == ["u17"]
    assert page.after is None
    page = search.search_platform(crowd, parse("plan:pro"), after="u10", limit=2)
    assert [hit.username for hit in page.hits] == ["u11", "u13"]
    assert page.after == "u13"


def test_a_full_walk_needs_no_index(crowd, monkeypatch):
    def no_index(*args):
        raise AssertionError("the walk filled the page")

    monkeypatch.setattr(search, "index_statement", no_index)
    page = search.search_platform(crowd, parse("plan:free"), after=None, limit=3)
    assert [hit.username for hit in page.hits] == ["u00", "u02", "u04"]
    assert page.hits[0].metadata["plan"] == "free"
