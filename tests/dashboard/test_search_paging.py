"""User search at scale: prefix matches and the others are two queries, paged as one list,
and the count stops at COUNT_LIMIT (webapp.dashboard.users)."""
from __future__ import annotations

from sqlalchemy import insert, select

from webapp.dashboard import users as user_search
from webapp.extensions import db
from webapp.models import Membership, Platform, User
from webapp.timeutil import utcnow


def add_users(platform: Platform, names: list[str]) -> None:
    now = utcnow()
    db.session.execute(insert(User), [
        {"username": name, "is_active": True, "is_superadmin": False, "created_at": now}
        for name in names])
    ids = db.session.scalars(select(User.id).where(User.username.in_(names)))
    db.session.execute(insert(Membership), [
        {"user_id": user_id, "platform_id": platform.id, "role": "member", "created_at": now}
        for user_id in ids])
    db.session.commit()


def every_page(viewer: User, q: str) -> list[list[str]]:
    first = user_search.search(viewer, q, None, 1)
    return [[user.username for user in user_search.search(viewer, q, None, number).users]
            for number in range(1, first.pages + 1)]


def test_pages_run_through_the_prefix_matches_into_the_others_without_gaps(tenants):
    prefix = [f"ann-{n:02d}" for n in range(30)]
    others = [f"jo-ann-{n:02d}" for n in range(40)]  # contain "ann", start otherwise
    add_users(tenants.acme, prefix + others)

    pages = every_page(tenants.superadmin, "ann")

    assert [len(page) for page in pages] == [25, 25, 20]
    assert [name for page in pages for name in page] == sorted(prefix) + sorted(others)


def test_a_page_of_other_matches_only_starts_where_the_prefix_matches_ended(tenants):
    add_users(tenants.acme, [f"bea-{n:02d}" for n in range(3)]
              + [f"x-bea-{n:02d}" for n in range(60)])
    third = user_search.search(tenants.superadmin, "bea", None, 3)
    assert [user.username for user in third.users] == [f"x-bea-{n:02d}" for n in range(47, 60)]


def test_the_count_stops_at_the_limit_and_says_there_are_more(tenants, monkeypatch):
    monkeypatch.setattr(user_search, "COUNT_LIMIT", 30)
    add_users(tenants.acme, [f"many-{n:03d}" for n in range(45)])

    result = user_search.search(tenants.superadmin, "many", None, 1)

    assert (result.total, result.more, result.pages) == (30, True, 2)
    exact = user_search.search(tenants.superadmin, "many-00", None, 1)
    assert (exact.total, exact.more) == (10, False)


def test_the_page_says_when_more_users_match_than_are_counted(web, tenants, monkeypatch):
    from tests.dashboard.conftest import login

    monkeypatch.setattr(user_search, "COUNT_LIMIT", 30)
    add_users(tenants.acme, [f"many-{n:03d}" for n in range(45)])
    login(web, tenants.superadmin)

    page = web.get("/admin/users", query_string={"q": "many"}).get_data(as_text=True)

    assert "1–25 of more than 30 users" in page
    assert "refine the search" in page


def test_any_string_is_searched_literally_and_in_any_case(tenants):
    """On SQLite the trigram table finds the candidates; quotes, operators and non-ASCII
    letters must reach it as one literal string."""
    names = ['Ünal.Öz', 'say "hi"', "a OR b", "x*y", "near(z)"]
    add_users(tenants.acme, names)

    def found(q: str) -> list[str]:
        return [u.username for u in user_search.search(tenants.superadmin, q, None, 1).users]

    assert found("ünal.ö") == ["Ünal.Öz"]
    assert found('y "hi') == ['say "hi"']
    assert found("a or b") == ["a OR b"]
    assert found("x*y") == ["x*y"]
    assert found("ar(z") == ["near(z)"]
    assert found("zzz") == []


def test_renamed_users_are_found_by_their_new_name(tenants):
    add_users(tenants.acme, ["oldname-1"])
    user = User.by_username("oldname-1")
    user.username = "newname-1"
    db.session.commit()
    assert [u.username for u in user_search.search(tenants.superadmin, "newname", None, 1).users] \
        == ["newname-1"]
    assert user_search.search(tenants.superadmin, "oldname", None, 1).users == []
    db.session.delete(user)
    db.session.commit()
    assert user_search.search(tenants.superadmin, "newname", None, 1).users == []
