"""GET /api/core/users/platform-metadata/search/: terms, JSON types, check order, scoping, paging."""
from __future__ import annotations

import pytest

from tests.factories import FACTORY, add_member, commit, make_user, one_transaction
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.models import AuditEvent, PlatformDocument

SEARCH = "/api/core/users/platform-metadata/search/"
FORBIDDEN = {"error": "Only tenant admins can search users' metadata"}
INVALID_CURSOR = {"detail": "Invalid cursor"}


def seed(platform, user, data):
    documents.replace_document(FACTORY, user, platform, data)
    commit()


def search(client, token, platform_key="acme-corp", q=None, **params):
    query = dict(params)
    if platform_key is not None:
        query["platform_key"] = platform_key
    if q is not None:
        query["q"] = q
    headers = {"Authorization": f"Token {token}"} if token else {}
    return client.get(SEARCH, query_string=query, headers=headers)


def names(response) -> list[str]:
    assert response.status_code == 200, response.get_json()
    return [hit["username"] for hit in response.get_json()["results"]]


def snapshot():
    """What a refused search must leave as it was: every document and the audit log."""
    docs = sorted((d.user_id, d.platform_id, repr(d.data), d.version)
                  for d in db.session.scalars(db.select(PlatformDocument)))
    return docs, db.session.scalar(db.select(db.func.count(AuditEvent.id)))


@pytest.fixture
def people(platform_world):
    """Members of acme-corp with documents that tell JSON types apart."""
    world = platform_world
    docs = {
        "ann": {"plan": "pro", "features": {"beta": True}, "seats": 5, "name": "Ada L"},
        "Bea": {"plan": "pro", "features": {"beta": "true"}, "seats": 5.0, "tier": None},
        "cid": {"plan": "free", "features": {"beta": False}, "seats": "5", "tier": "gold",
                "build.v2": True, "a:b": 1, "tags": ["pro"], "name": 'say "hi"'},
        "dan": {"plan": "Pro", "features": {"beta": None}, "seats": 6, "name": "Ada",
                "nested": {"deep": {"er": [1, 2]}}, "café": {"naïve": "über"},
                "back\\slash": 1, "tab\tkey": "x"},
    }
    users = {}
    with one_transaction():
        for username, data in docs.items():
            users[username] = make_user(username, password="")
            add_member(world.platform, users[username])
            seed(world.platform, users[username], data)
    return users


# One world for every case (a world each cost 35 set-ups); each case still reports alone.
TERMS = [
    ("plan:pro", ["ann", "Bea"]),  # case-sensitive values; ordered by username, any case
    ("plan:Pro", ["dan"]),
    ("features.beta:true", ["ann"]),  # JSON true, not the string "true"
    ('features.beta:"true"', ["Bea"]),
    ("features.beta:false", ["cid"]),
    ("features.beta:null", ["dan"]),  # null is a value: the key is there
    ("features.beta:*", ["ann", "Bea", "cid", "dan"]),
    ("seats:5", ["ann", "Bea"]),  # 5 and 5.0 are one number; "5" is a string
    ("seats:5.0", ["ann", "Bea"]),
    ('seats:"5"', ["cid"]),
    ("tier:*", ["Bea", "cid"]),  # has the key, even when it holds null
    ("tier:null", ["Bea"]),
    ("tier:gold", ["cid"]),
    ('name:"Ada L"', ["ann"]),
    ("name:Ada", ["dan"]),  # whole values, not parts
    ('name:"say \\"hi\\""', ["cid"]),
    ('"build.v2":true', ["cid"]),
    ('"a:b":1', ["cid"]),
    ('"a:b":*', ["cid"]),
    ("tags:pro", []),  # a value inside an array is not the value
    ("tags:*", ["cid"]),
    ("nested.deep:*", ["dan"]),
    ("nested.deep.er:*", ["dan"]),
    ("nested.deep.er.x:*", []),
    ("plan.x:*", []),  # a path through a string leads nowhere
    ("nested.missing:*", []),
    ("plan:pro features.beta:true", ["ann"]),  # every term must match
    ("plan:pro seats:6", []),
    ("plan:pro plan:free", []),
    ("missing:x", []),
    ("café.naïve:über", ["dan"]),  # keys and values beyond ASCII
    ("café.naïve:*", ["dan"]),
    ('"back\\\\slash":1', ["dan"]),
    ('"back\\\\slash":*', ["dan"]),
    ('"tab\\tkey":x', ["dan"]),
]


def test_terms_and_json_types(client, platform_world, people, subtests):
    token = platform_world.token(platform_world.admin)
    for q, expected in TERMS:
        with subtests.test(q=q):
            assert names(search(client, token, q=q)) == expected


def test_results_carry_the_document_and_its_time(client, platform_world, people):
    response = search(client, platform_world.token(platform_world.admin), q="seats:6")
    body = response.get_json()
    assert body["next"] is None
    [hit] = body["results"]
    assert set(hit) == {"username", "metadata", "updated_at"}
    assert hit["metadata"] == {"plan": "Pro", "features": {"beta": None}, "seats": 6,
                               "name": "Ada", "nested": {"deep": {"er": [1, 2]}},
                               "café": {"naïve": "über"}, "back\\slash": 1, "tab\tkey": "x"}
    assert hit["updated_at"].endswith("Z")


def test_the_path_without_trailing_slash(client, platform_world, people):
    response = client.get(SEARCH.rstrip("/"), query_string={"platform_key": "acme-corp",
                                                            "q": "tier:gold"},
                          headers={"Authorization": f"Token {platform_world.token(platform_world.admin)}"})
    assert names(response) == ["cid"]


def test_a_superadmin_who_is_no_member_searches(client, platform_world, people):
    assert names(search(client, platform_world.token(platform_world.superadmin),
                        q="plan:pro")) == ["ann", "Bea"]


def test_user_text_never_reaches_the_sql(client, platform_world, people):
    token = platform_world.token(platform_world.admin)
    for q in ("plan:'pro'", "plan:pro')--", "\"x'); DROP TABLE users; --\":*",
              "plan:\"' OR 1=1 --\"", "x:%", "x:_", "%:*", "\"$.plan\":*", "\"$\":pro"):
        assert names(search(client, token, q=q)) == []
    assert names(search(client, token, q="plan:pro")) == ["ann", "Bea"]


# --- tenant scoping -------------------------------------------------------------------

def test_never_a_user_of_another_platform(client, platform_world, people):
    world = platform_world
    seed(world.other_platform, world.outsider, {"plan": "pro"})
    both = make_user("eve", password="")
    add_member(world.platform, both)
    add_member(world.other_platform, both)
    seed(world.other_platform, both, {"plan": "pro"})  # matches on globex only
    seed(world.platform, both, {"plan": "free"})
    assert names(search(client, world.token(world.admin), q="plan:pro")) == ["ann", "Bea"]
    assert names(search(client, world.token(world.superadmin), q="plan:pro")) == ["ann", "Bea"]
    globex_admin = make_user("gabe", password="")
    add_member(world.other_platform, globex_admin, "admin")
    key = accounts.create_api_token(FACTORY, globex_admin).key
    db.session.commit()
    assert names(search(client, key, "globex", q="plan:pro")) == ["eve", "olga_outsider"]


def test_a_former_member_is_not_found_though_the_document_stays(client, platform_world, people):
    accounts.remove_membership(FACTORY, platform_world.platform, people["ann"])
    db.session.commit()
    assert names(search(client, platform_world.token(platform_world.admin),
                        q="plan:pro")) == ["Bea"]


# --- the order of checks --------------------------------------------------------------

def test_authentication_first(client, platform_world):
    response = search(client, None, None, q="plan:")
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Authentication credentials were not provided."}
    assert response.headers["WWW-Authenticate"] == "Token"
    response = search(client, "not-a-token", None, q="plan:")
    assert (response.status_code, response.get_json()) == (401, {"detail": "Invalid token."})


def test_platform_key_missing_then_not_found(client, platform_world):
    world = platform_world
    response = search(client, world.token(world.member), None, q="plan:")
    assert response.status_code == 400
    assert response.get_json() == {"error": "platform_key query parameter is required"}
    for token, key in ((world.admin, "no-such"), (world.outsider, "acme-corp"),
                       (world.member, "globex")):
        response = search(client, world.token(token), key, q="plan:")
        assert response.status_code == 404
        assert response.get_json() == {"error": "Platform not found"}


def test_a_token_made_for_another_platform_finds_no_platform(client, platform_world):
    world = platform_world
    add_member(world.other_platform, world.admin, "admin")
    issued = accounts.create_api_token(FACTORY, world.admin, platform=world.platform)
    db.session.commit()
    response = search(client, issued.key, "globex", q="plan:pro")
    assert (response.status_code, response.get_json()) == (404, {"error": "Platform not found"})
    assert search(client, issued.key, "acme-corp", q="plan:pro").status_code == 200


@pytest.mark.parametrize("role", ["member", "support"])
def test_members_and_support_are_forbidden_before_q_is_read(client, platform_world, people, role):
    world = platform_world
    user = world.member if role == "member" else world.support
    before = snapshot()
    for q in ("plan:pro", "plan:", None):
        response = search(client, world.token(user), q=q)
        assert response.status_code == 403
        assert response.get_json() == FORBIDDEN
    assert snapshot() == before


def test_an_admin_of_another_platform_only_is_forbidden_there(client, platform_world, people):
    world = platform_world
    add_member(world.other_platform, world.member, "admin")
    response = search(client, world.token(world.member), "acme-corp", q="plan:pro")
    assert (response.status_code, response.get_json()) == (403, FORBIDDEN)


def test_a_token_someone_else_made_acts_as_a_member(client, platform_world, people):
    """A token a tenant admin made in the dashboard for another admin: member rights only."""
    world = platform_world
    other_admin = make_user("second_admin", password="")
    add_member(world.platform, other_admin, "admin")
    from webapp.metadata.audit import Actor

    issued = accounts.create_api_token(Actor(via="dashboard", user=world.admin), other_admin,
                                       platform=world.platform)
    db.session.commit()
    response = search(client, issued.key, q="plan:pro")
    assert (response.status_code, response.get_json()) == (403, FORBIDDEN)
    own = accounts.create_api_token(Actor(via="dashboard", user=world.admin), world.admin,
                                    platform=world.platform)
    db.session.commit()
    assert names(search(client, own.key, q="plan:pro")) == ["ann", "Bea"]


# --- q and page_size ------------------------------------------------------------------

MALFORMED_Q = [
    (None, "This field is required."),
    ("", "This field is required."),
    ("   ", "This field is required."),
    ("plan:", "'plan:': the value is missing; write plan:* for any value or plan:\"\" for the "
              "empty string"),
    (":pro", "':pro': a key is missing before the colon, e.g. plan:pro"),
    ('name:"Ada', "'name:\"Ada': the quote is not closed"),
    ("tags:[1]", "'tags:[1]': arrays and objects cannot be searched as values; search a key "
                 "inside an object with a dotted path, e.g. features.beta:true"),
    ("ann plan:pro", "'ann' is not a term: search path:value terms, e.g. plan:pro "
                     "features.beta:true"),
    ('plan:pro "a:b"', "'\"a:b\"' is not a term: search path:value terms, e.g. plan:pro "
                       "features.beta:true"),
]
BAD_PAGE_SIZES = [
    ("0", "Ensure this value is greater than or equal to 1."),
    ("-3", "Ensure this value is greater than or equal to 1."),
    ("201", "Ensure this value is less than or equal to 200."),
    ("abc", "A valid integer is required."),
    ("", "A valid integer is required."),
    ("2.5", "A valid integer is required."),
    ("1_0", "A valid integer is required."),
    ("\u0665", "A valid integer is required."),  # an Arabic-Indic five
    ("9" * 40, "A valid integer is required."),
]


def test_malformed_or_missing_q(client, platform_world, people, subtests):
    token = platform_world.token(platform_world.admin)
    for q, message in MALFORMED_Q:
        with subtests.test(q=q):
            before = snapshot()
            response = search(client, token, q=q)
            assert response.status_code == 400
            assert response.get_json() == {"q": [message]}
            assert snapshot() == before


def test_bad_page_size(client, platform_world, people, subtests):
    token = platform_world.token(platform_world.admin)
    for page_size, message in BAD_PAGE_SIZES:
        with subtests.test(page_size=page_size):
            before = snapshot()
            response = search(client, token, q="plan:pro", page_size=page_size)
            assert response.status_code == 400
            assert response.get_json() == {"page_size": [message]}
            assert snapshot() == before


def test_q_is_checked_before_page_size_and_cursor(client, platform_world, people):
    response = search(client, platform_world.token(platform_world.admin), q="plan:",
                      page_size="0", cursor="forged")
    assert response.get_json() == {"q": [response.get_json()["q"][0]]}
    response = search(client, platform_world.token(platform_world.admin), q="plan:pro",
                      page_size="0", cursor="forged")
    assert response.get_json() == {"page_size": ["Ensure this value is greater than or equal to 1."]}


def test_page_size_default_and_limits(client, platform_world):
    world = platform_world
    with one_transaction():  # a commit each took seconds
        for number in range(205):
            user = make_user(f"p{number:03d}", password="")
            add_member(world.platform, user)
            seed(world.platform, user, {"bulk": True})
    token = world.token(world.admin)
    default = search(client, token, q="bulk:true").get_json()
    assert [hit["username"] for hit in default["results"]] == [f"p{n:03d}" for n in range(50)]
    assert default["next"]
    assert names(search(client, token, q="bulk:true", page_size="1")) == ["p000"]
    most = search(client, token, q="bulk:true", page_size="200").get_json()
    assert len(most["results"]) == 200 and most["next"]
    rest = search(client, token, q="bulk:true", page_size="200", cursor=most["next"]).get_json()
    assert [hit["username"] for hit in rest["results"]] == [f"p{n:03d}" for n in range(200, 205)]
    assert rest["next"] is None


def test_what_postgresql_cannot_compare_is_refused_not_failed(client, platform_world, people):
    token = platform_world.token(platform_world.admin)
    response = search(client, token, "acme\x00corp", q="plan:pro")
    assert (response.status_code, response.get_json()) == (404, {"error": "Platform not found"})
    response = search(client, token, q="plan:a\x00b")
    assert response.get_json() == {"q": ["Search may not contain the NUL character."]}
    for q in ('plan:"\\u0000"', 'plan:"\\ud800"', '"\\udfff":*'):
        response = search(client, token, q=q)
        assert response.status_code == 400
        assert response.get_json()["q"][0].endswith(
            "\\u0000 and unpaired surrogates cannot be searched")
