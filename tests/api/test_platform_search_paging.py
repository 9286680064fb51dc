"""The metadata search's cursors: tamper-proof, bound to their search, steady while data moves."""
from __future__ import annotations

import base64

import pytest
from itsdangerous import URLSafeSerializer

from tests.api.test_platform_search import INVALID_CURSOR, names, search, seed, snapshot
from tests.factories import FACTORY, add_member, make_user
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import search as search_service
from webapp.metadata.search import CURSOR_SALT


@pytest.fixture
def matching(platform_world):
    """Six acme-corp members whose documents match `plan:pro`."""
    users = {}
    for username in ("m1", "m2", "m3", "m4", "m5", "m6"):
        users[username] = make_user(username, password="")
        add_member(platform_world.platform, users[username])
        seed(platform_world.platform, users[username], {"plan": "pro"})
    return users


@pytest.fixture(params=["index plan", "walk"])
def plan(request, monkeypatch):
    """Pages served by the index plan (so few matches call for it) or, with no match
    counted as few, by the walk in username order (a short last page by the index plan)."""
    if request.param == "walk":
        monkeypatch.setattr(search_service, "FEW_MATCHES", 0)
    return request.param


def first_page(client, world, q="plan:pro", page_size="2"):
    body = search(client, world.token(world.admin), q=q, page_size=page_size).get_json()
    return [hit["username"] for hit in body["results"]], body["next"]


def test_pages_follow_one_another(client, platform_world, matching, plan):
    world = platform_world
    seen, cursor = first_page(client, world)
    while cursor:
        body = search(client, world.token(world.admin), q="plan:pro", page_size="2",
                      cursor=cursor).get_json()
        seen += [hit["username"] for hit in body["results"]]
        cursor = body["next"]
    assert seen == ["m1", "m2", "m3", "m4", "m5", "m6"]


def test_a_changing_result_set_neither_repeats_nor_skips_who_stayed(client, platform_world,
                                                                   matching, plan):
    world = platform_world
    seen, cursor = first_page(client, world, page_size="3")
    assert seen == ["m1", "m2", "m3"]
    # Between pages: someone shown leaves the result, someone not yet shown leaves, new
    # matches appear before and after the cursor, and one shown user is edited.
    seed(world.platform, matching["m2"], {"plan": "free"})
    seed(world.platform, matching["m5"], {"plan": "free"})
    for username in ("m0", "m35", "m9"):
        user = make_user(username, password="")
        add_member(world.platform, user)
        seed(world.platform, user, {"plan": "pro"})
    seed(world.platform, matching["m1"], {"plan": "pro", "edited": True})
    while cursor:
        body = search(client, world.token(world.admin), q="plan:pro", page_size="3",
                      cursor=cursor).get_json()
        seen += [hit["username"] for hit in body["results"]]
        cursor = body["next"]
    assert seen == ["m1", "m2", "m3", "m35", "m4", "m6", "m9"]
    stayed = {"m1", "m3", "m4", "m6"}
    assert all(seen.count(name) == 1 for name in stayed)


def test_the_last_page_has_no_next(client, platform_world, matching, plan):
    _, cursor = first_page(client, platform_world, page_size="6")
    assert cursor is None


def tampered(cursor: str, platform_id: int) -> list[str]:
    payload, signature = cursor.rsplit(".", 1)
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    edited = base64.urlsafe_b64encode(decoded.replace(b'"m2"', b'"m0"')).rstrip(b"=").decode()
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    return [
        f"{edited}.{signature}",  # the position changed, the signature kept
        f"{payload}.{flipped}",  # the signature changed
        payload,  # no signature
        "not-a-cursor",
        cursor + "x",
        URLSafeSerializer("another-secret", salt=CURSOR_SALT).dumps(
            [platform_id, "plan:pro", "m2"]),  # well-formed, signed with another key
    ]


def test_tampered_cursors_are_refused(client, platform_world, matching):
    world = platform_world
    _, cursor = first_page(client, world)
    before = snapshot()
    for bad in tampered(cursor, world.platform.id):
        response = search(client, world.token(world.admin), q="plan:pro", page_size="2",
                          cursor=bad)
        assert response.status_code == 404, bad
        assert response.get_json() == INVALID_CURSOR
    assert snapshot() == before
    assert names(search(client, world.token(world.admin), q="plan:pro", page_size="2",
                        cursor=cursor)) == ["m3", "m4"]


def test_a_cursor_serves_only_its_own_search(client, platform_world, matching):
    world = platform_world
    _, cursor = first_page(client, world)
    response = search(client, world.token(world.admin), q="plan:*", page_size="2", cursor=cursor)
    assert (response.status_code, response.get_json()) == (404, INVALID_CURSOR)
    other_admin = make_user("gabe", password="")
    add_member(world.other_platform, other_admin, "admin")
    key = accounts.create_api_token(FACTORY, other_admin).key
    db.session.commit()
    response = search(client, key, "globex", q="plan:pro", page_size="2", cursor=cursor)
    assert (response.status_code, response.get_json()) == (404, INVALID_CURSOR)
    # Another page size is still the same search: it goes on from the same place.
    assert names(search(client, world.token(world.admin), q="plan:pro", page_size="3",
                        cursor=cursor)) == ["m3", "m4", "m5"]


def test_cursors_do_not_reach_past_the_access_checks(client, platform_world, matching):
    world = platform_world
    _, cursor = first_page(client, world)
    response = search(client, world.token(world.member), q="plan:pro", cursor=cursor)
    assert response.status_code == 403
