"""The metadata search's part of the platform API's OpenAPI scenario (tests/api/test_openapi.py).

Every answer the document promises for the search path, fired as real requests and checked
against the document by the scenario's recorder.
"""
from __future__ import annotations

from tests.factories import FACTORY, add_member, make_api_token, make_user
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import search as search_service

SEARCH = "/api/core/users/platform-metadata/search/"


def search_scenario(call, world, monkeypatch, too_large: str) -> None:
    for user, data in ((world.admin, {"plan": "pro", "features": {"beta": True}}),
                       (world.member, {"plan": "pro", "features": {"beta": False}})):
        documents.replace_document(FACTORY, user, world.platform, data)
    db.session.commit()
    admin = {"Authorization": f"Token {world.token(world.admin)}"}
    acme = {"platform_key": "acme-corp"}

    idle = make_user("idle_searcher", password="")
    add_member(world.platform, idle, "admin")
    idle_key = make_api_token(idle)
    idle.is_active = False
    db.session.commit()
    for headers in ({}, {"Authorization": "Token nope"}, {"Authorization": f"Token {idle_key}"}):
        call("GET", SEARCH, query={**acme, "q": "plan:pro"}, headers=headers, expect=401)
    call("GET", SEARCH, query={"q": "plan:pro"}, headers=admin, expect=400)
    call("GET", SEARCH, query={"platform_key": "nope", "q": "plan:pro"}, headers=admin,
         expect=404)
    call("GET", SEARCH, query={**acme, "q": "plan:pro"}, expect=403,
         headers={"Authorization": f"Token {world.token(world.support)}"})
    for q in ("", "plan:", "ada plan:pro"):
        call("GET", SEARCH, query={**acme, "q": q}, headers=admin, expect=400)
    for size in ("x", "0", "201"):
        call("GET", SEARCH, query={**acme, "q": "plan:pro", "page_size": size}, headers=admin,
             expect=400)
    first = call("GET", SEARCH, query={**acme, "q": "plan:pro", "page_size": "1"},
                 headers=admin, expect=200).get_json()
    call("GET", SEARCH, query={**acme, "q": "plan:pro", "cursor": first["next"] + "x"},
         headers=admin, expect=404)
    call("GET", SEARCH.rstrip("/"), query={**acme, "q": "plan:pro features.beta:true"},
         headers=admin, expect=200)
    call("GET", SEARCH, query={**acme, "q": "plan:none"}, headers=admin, expect=200)
    call("POST", SEARCH, query={**acme, "q": "plan:pro"}, headers=admin, expect=405)
    call("GET", SEARCH, query={**acme, "q": "plan:pro"}, headers=admin, data=too_large,
         expect=413)

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(search_service, "search_platform", broken)
    response = call("GET", SEARCH, query={**acme, "q": "plan:pro"}, headers=admin, expect=500)
    assert b"secret" not in response.data
