"""Platform schemas through the API (CONTRACT 8): protected keys (check 7), schema
validation (check 8), their order after section 3's checks, and the schema endpoint."""
from __future__ import annotations

import pytest

from tests.api.conftest import PLATFORM_PATH
from tests.conftest import counting_statements
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent

SCHEMA_PATH = PLATFORM_PATH + "schema/"
OPERATOR = Actor.system("cli", "tests")
SCHEMA = {
    "type": "object",
    "properties": {
        "plan": {"type": "string", "enum": ["free", "pro", "enterprise"], "readOnly": True},
        "features": {"type": "object", "readOnly": True},
        "theme": {"type": "string"},
        "age": {"type": "integer", "minimum": 0},
        "email": {"type": "string", "format": "email"},
    },
}
SEEDED = {"plan": "free", "theme": "dark"}
FORBIDDEN = "Only tenant admins can change protected keys"


@pytest.fixture
def world(platform_world):
    schemas.set_schema(OPERATOR, platform_world.platform, SCHEMA)
    db.session.commit()
    documents.replace_document(OPERATOR, platform_world.member, platform_world.platform, SEEDED)
    db.session.commit()
    return platform_world


def stored(world, user=None):
    view = documents.get_document(user or world.member, world.platform)
    db.session.rollback()
    return view


def writes():
    return db.session.scalar(db.select(db.func.count(AuditEvent.id)).where(
        AuditEvent.action.like("platform_metadata.%")))


# (write, key kind) -> request: PATCH set, PATCH delete_keys, PUT that drops the key.
WRITES = {
    ("patch", "protected"): ("PATCH", {"metadata": {"plan": "pro"}}),
    ("patch", "unprotected"): ("PATCH", {"metadata": {"theme": "light"}}),
    ("delete_keys", "protected"): ("PATCH", {"delete_keys": ["plan"]}),
    ("delete_keys", "unprotected"): ("PATCH", {"delete_keys": ["theme"]}),
    ("put", "protected"): ("PUT", {"metadata": {"theme": "dark"}}),
    ("put", "unprotected"): ("PUT", {"metadata": {"plan": "free"}}),
}
# Who acts through the API on john_doe's document, and whether they may change `plan`.
CALLERS = {"member": False, "support": False, "admin": True, "superadmin": True}


@pytest.mark.parametrize("write", ["patch", "delete_keys", "put"])
@pytest.mark.parametrize("kind", ["protected", "unprotected"])
@pytest.mark.parametrize("role", list(CALLERS))
def test_protected_key_matrix(world, platform_api, role, kind, write):
    """Members (and support staff, who have no admin role in the API) act on their own
    document; admins and superadmins on john_doe's."""
    method, body = WRITES[(write, kind)]
    if role in ("member", "support"):
        target = world.member if role == "member" else world.support
        if role == "support":
            documents.replace_document(OPERATOR, target, world.platform, SEEDED)
            db.session.commit()
        username = None
    else:
        target, username = world.member, "john_doe"
    caller = {"member": world.member, "support": world.support, "admin": world.admin,
              "superadmin": world.superadmin}[role]
    before = stored(world, target)
    response = platform_api(method, world.token(caller), "acme-corp", username, json=body)
    if kind == "protected" and not CALLERS[role]:
        assert response.status_code == 403
        assert response.get_json() == {"error": FORBIDDEN, "keys": ["plan"]}
        after = stored(world, target)
        assert (after.data, after.version) == (before.data, before.version)
    else:
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["metadata"] == stored(world, target).data
        assert stored(world, target).data != before.data


def test_member_setting_a_protected_key_to_its_value_is_no_change(world, me_call):
    response = me_call("PATCH", {"metadata": {"plan": "free", "theme": "light"}})
    assert response.status_code == 200
    assert stored(world).data == {"plan": "free", "theme": "light"}
    response = me_call("PUT", {"metadata": {"plan": "free", "theme": "blue"}})
    assert response.status_code == 200


def test_member_may_not_add_a_protected_key(world, me_call):
    documents.replace_document(OPERATOR, world.member, world.platform, {"theme": "dark"})
    db.session.commit()
    response = me_call("PATCH", {"metadata": {"plan": "free", "features": {"beta": True}}})
    assert response.status_code == 403
    assert response.get_json() == {"error": FORBIDDEN, "keys": ["features", "plan"]}
    assert stored(world).data == {"theme": "dark"}


def test_member_put_dropping_two_protected_keys_names_both_sorted(world, me_call):
    documents.replace_document(OPERATOR, world.member, world.platform,
                               {"plan": "pro", "features": {"beta": True}})
    db.session.commit()
    response = me_call("PUT", {"metadata": {}})
    assert response.get_json() == {"error": FORBIDDEN, "keys": ["features", "plan"]}
    assert stored(world).data == {"plan": "pro", "features": {"beta": True}}


def test_a_member_may_read_protected_keys_and_delete_the_whole_document(world, me_call):
    response = me_call("GET")
    assert response.get_json()["metadata"] == SEEDED
    assert me_call("DELETE").status_code == 204
    assert not stored(world).exists


def test_an_admin_token_made_by_someone_else_acts_with_member_rights(world, platform_api):
    """CONTRACT 6: a token another user created reaches protected keys no better than a member."""
    issued = accounts.create_api_token(Actor(via="dashboard", user=world.superadmin),
                                       world.admin, platform=world.platform)
    db.session.commit()
    documents.replace_document(OPERATOR, world.admin, world.platform, SEEDED)
    db.session.commit()
    response = platform_api("PATCH", issued.key, "acme-corp", json={"metadata": {"plan": "pro"}})
    assert response.status_code == 403
    assert response.get_json() == {"error": FORBIDDEN, "keys": ["plan"]}
    assert stored(world, world.admin).data == SEEDED


# --- check 8: the document after the write validates --------------------------------------


def test_schema_failures_exact_body_sorted_by_pointer(world, me_call):
    before = stored(world)
    response = me_call("PATCH", {"metadata": {"theme": 5, "email": "nope", "age": -1}})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": [
        "/age: -1 is less than the minimum of 0",
        "/email: 'nope' is not a 'email'",
        "/theme: 5 is not of type 'string'",
    ]}
    after = stored(world)
    assert (after.data, after.version) == (before.data, before.version)


def test_a_missing_required_key_points_at_the_document(world, platform_api):
    schemas.set_schema(OPERATOR, world.platform, {**SCHEMA, "required": ["plan"]})
    db.session.commit()
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "john_doe",
                            json={"delete_keys": ["plan"]})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": [": 'plan' is a required property"]}
    assert stored(world).data == SEEDED


def test_at_most_twenty_errors(world, platform_api):
    properties = {f"n{i:02d}": {"type": "integer"} for i in range(30)}
    schemas.set_schema(OPERATOR, world.platform, {"type": "object", "properties": properties})
    db.session.commit()
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "john_doe",
                            json={"metadata": {key: "x" for key in properties}})
    assert response.status_code == 400
    body = response.get_json()["metadata"]
    assert body == [f"/n{i:02d}: 'x' is not of type 'integer'" for i in range(20)]
    assert stored(world).data == SEEDED


def test_admins_are_held_to_the_schema_too(world, platform_api):
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "john_doe",
                            json={"metadata": {"plan": "platinum"}})
    assert response.status_code == 400
    assert response.get_json() == {"metadata": [
        "/plan: 'platinum' is not one of ['free', 'pro', 'enterprise']"]}
    assert stored(world).data == SEEDED


def test_a_pointer_escapes_slash_and_tilde(world, platform_api):
    schemas.set_schema(OPERATOR, world.platform, {
        "type": "object", "additionalProperties": {"type": "string"}})
    db.session.commit()
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "john_doe",
                            json={"metadata": {"a/b~c": 1}})
    assert response.get_json() == {"metadata": ["/a~1b~0c: 1 is not of type 'string'"]}


def test_a_document_failing_a_new_schema_takes_only_a_write_that_fixes_it(world, me_call):
    schemas.set_schema(OPERATOR, world.platform, {**SCHEMA, "required": ["language"]})
    db.session.commit()
    assert stored(world).data == SEEDED  # the schema change left it alone
    response = me_call("PATCH", {"metadata": {"theme": "light"}})
    assert response.get_json() == {"metadata": [": 'language' is a required property"]}
    assert me_call("PATCH", {"metadata": {"language": "en"}}).status_code == 200


def test_check_order_404_then_403_then_400(world, platform_api, me_call):
    token = world.token(world.member)
    bad_and_protected = {"metadata": {"plan": 5}}
    response = platform_api("PATCH", token, "globex", json=bad_and_protected)
    assert (response.status_code, response.get_json()) == (404, {"error": "Platform not found"})
    response = platform_api("PATCH", token, "acme-corp", "nobody", json=bad_and_protected)
    assert response.status_code == 403  # check 4 comes first too
    response = me_call("PATCH", bad_and_protected)
    assert (response.status_code, response.get_json()) == (
        403, {"error": FORBIDDEN, "keys": ["plan"]})
    response = me_call("PATCH", {"metadata": {"theme": 5}})
    assert response.status_code == 400
    # Check 6 (the body's shape) comes before 7.
    response = me_call("PATCH", {"metadata": "plan", "delete_keys": ["plan"]})
    assert response.get_json() == {
        "metadata": ['Expected a dictionary of items but got type "str".']}
    assert stored(world).data == SEEDED


def test_refused_writes_are_not_audited_and_change_nothing(world, me_call):
    before = writes()
    me_call("PATCH", {"metadata": {"plan": "pro"}})
    me_call("PATCH", {"metadata": {"theme": 5}})
    assert writes() == before


def test_a_write_with_a_cached_schema_costs_no_extra_statement(world, me_call):
    """The schema is known from the platform row; compiled once, then served from the cache."""
    def patch_count():
        me_call("PATCH", {"metadata": {"theme": "x"}})  # the first compiles the schema
        with counting_statements() as statements:
            response = me_call("PATCH", {"metadata": {"theme": "y"}})
        assert response.status_code == 200, response.get_json()
        return len(statements)

    with_schema = patch_count()
    schemas.set_schema(OPERATOR, world.platform, None)
    db.session.commit()
    assert patch_count() == with_schema
    schemas.set_schema(OPERATOR, world.platform, SCHEMA)
    db.session.commit()
    compiled = schemas.for_platform(world.platform)
    assert compiled is schemas.for_platform(world.platform)


# --- the schema endpoint ---------------------------------------------------------------------


def test_schema_endpoint_for_any_member(world, platform_api):
    response = platform_api("GET", world.token(world.member), "acme-corp", path=SCHEMA_PATH)
    assert response.status_code == 200
    body = response.get_json()
    assert body["platform_key"] == "acme-corp"
    assert body["schema"] == SCHEMA
    assert body["updated_at"].endswith("Z")
    response = platform_api("GET", world.token(world.outsider), "globex",
                            path=SCHEMA_PATH.rstrip("/"))
    assert response.get_json() == {"platform_key": "globex", "schema": None, "updated_at": None}


def test_schema_endpoint_checks_in_order(world, platform_api):
    response = platform_api("GET", None, "acme-corp", path=SCHEMA_PATH)
    assert response.status_code == 401
    assert response.get_json() == {"detail": "Authentication credentials were not provided."}
    response = platform_api("GET", world.token(world.member), path=SCHEMA_PATH)
    assert (response.status_code, response.get_json()) == (
        400, {"error": "platform_key query parameter is required"})
    response = platform_api("GET", world.token(world.outsider), "acme-corp", path=SCHEMA_PATH)
    assert (response.status_code, response.get_json()) == (404, {"error": "Platform not found"})
    response = platform_api("GET", world.token(world.member), "nope", path=SCHEMA_PATH)
    assert response.status_code == 404
    response = platform_api("GET", world.token(world.superadmin), "acme-corp", path=SCHEMA_PATH)
    assert response.status_code == 200


def test_schema_endpoint_is_read_only(world, platform_api):
    response = platform_api("PUT", world.token(world.admin), "acme-corp", path=SCHEMA_PATH,
                            json={"type": "object"})
    assert response.status_code == 405
    assert schemas.get_schema(world.platform).schema == SCHEMA


@pytest.fixture
def me_call(world, platform_api):
    key = world.token(world.member)

    def call(method, body=None):
        return platform_api(method, key, "acme-corp", json=body)

    return call
