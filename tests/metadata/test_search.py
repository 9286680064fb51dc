"""The search's plans, without HTTP: each alone gives the same answer as the other, and each
page is served by the plan its count of matches calls for, however the matches change."""
from __future__ import annotations

import pytest

from tests.factories import FACTORY, add_member, make_platform, make_user
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import search
from webapp.metadata.search_terms import parse
from webapp.models import User


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
    former = make_user("u30", password="")
    add_member(acme, former)
    documents.replace_document(FACTORY, former, acme, {"plan": "pro", "rare": True})
    accounts.remove_membership(FACTORY, acme, former)
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


def test_matches_are_counted_up_to_the_cap(crowd):
    """Documents are counted, the former member's too: the count only chooses the plan."""
    expected = {"plan:pro": 16, "rare:true": 2, "tier:*": 6, "nested.deep.er:*": 8,
                "nested.flag:* plan:free": 15, "plan:none": 0}
    for q, count in expected.items():
        assert db.session.scalar(search.count_statement(crowd, parse(q), 100)) == count, q
        assert db.session.scalar(search.count_statement(crowd, parse(q), 3)) == min(count, 3), q


@pytest.fixture
def plans(monkeypatch):
    """The statements each search ran, in order: "walk" and "index"."""
    ran = []
    for name in ("walk_statement", "index_statement"):
        def spy(*args, real=getattr(search, name), plan=name.split("_")[0]):
            ran.append(plan)
            return real(*args)

        monkeypatch.setattr(search, name, spy)
    return ran


def page(platform, q, after, limit):
    found = search.search_platform(platform, parse(q), after=after, limit=limit)
    return [hit.username for hit in found.hits], found.after


def test_few_matches_are_sorted_from_the_index(crowd, plans, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 6)
    assert page(crowd, "tier:*", None, 4) == (["u00", "u05", "u10", "u15"], "u15")
    assert page(crowd, "tier:*", "u15", 4) == (["u20", "u25"], None)
    assert page(crowd, "plan:none", None, 4) == ([], None)
    assert plans == ["index", "index", "index"]


def test_many_matches_are_walked_in_username_order(crowd, plans, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 5)
    assert page(crowd, "tier:*", None, 4) == (["u00", "u05", "u10", "u15"], "u15")
    found = search.search_platform(crowd, parse("plan:pro"), after="u20", limit=3)
    assert [hit.username for hit in found.hits] == ["u21", "u23", "u25"]
    assert found.after == "u25"
    assert found.hits[0].metadata["plan"] == "pro"
    assert plans == ["walk", "walk"]


def test_a_short_walk_falls_back_to_the_index(crowd, plans, monkeypatch):
    monkeypatch.setattr(search, "FEW_MATCHES", 5)
    monkeypatch.setattr(search, "WALK_PER_ROW", 1)  # the walk reads 3 users for a page of 2
    assert page(crowd, "plan:pro", "u10", 2) == (["u11", "u13"], "u13")
    assert plans == ["walk", "index"]


def test_paging_goes_on_across_the_threshold(crowd, plans, monkeypatch):
    """Matches added and removed between pages switch the plan; whoever kept matching is
    shown once, in order, and whoever came and went after the cursor is never shown."""
    monkeypatch.setattr(search, "FEW_MATCHES", 5)

    def flag(numbers, on):
        for n in numbers:
            user = User.by_username(f"u{n:02d}")
            if on:
                documents.patch_document(FACTORY, user, crowd, {"flag": True})
            else:
                documents.patch_document(FACTORY, user, crowd, delete_keys=["flag"])
        db.session.commit()

    flag((2, 8, 14, 20), on=True)
    shown, after = page(crowd, "flag:true", None, 2)  # 4 matches
    flag((0, 10, 12, 16, 22, 24), on=True)  # 10: one before the cursor, five after
    more, after = page(crowd, "flag:true", after, 2)
    shown += more
    flag((10, 12, 14, 16, 24), on=False)  # 5: two already shown, three not yet
    more, after = page(crowd, "flag:true", after, 2)
    shown += more
    assert shown == ["u02", "u08", "u10", "u12", "u20", "u22"]
    assert after is None
    assert plans == ["index", "walk", "index"]
