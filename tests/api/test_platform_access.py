"""Platform API: authentication, the order of checks, tenant isolation and roles."""
from __future__ import annotations

import pytest

from tests.factories import add_member, make_api_token, make_platform, make_user
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.models import ApiToken

NOT_PROVIDED = {"detail": "Authentication credentials were not provided."}
INVALID = {"detail": "Invalid token."}
KEY_MISSING = {"error": "platform_key query parameter is required"}
PLATFORM_NOT_FOUND = {"error": "Platform not found"}
NOT_ADMIN = {"error": "Only tenant admins can access other users' metadata"}
USER_NOT_FOUND = {"error": "User not found"}
METHODS = ("GET", "PATCH", "PUT", "DELETE")
BODY = {"metadata": {"theme": "dark"}}


def stored(user, platform):
    return documents.get_document(user, platform).data


def seed(world, user, data):
    documents.replace_document(Actor.system("cli", "tests"), user, world.platform, data)
    db.session.commit()


# --- authentication -----------------------------------------------------------------


@pytest.mark.parametrize("method", METHODS)
def test_no_header_is_not_authenticated(platform_api, platform_world, method):
    response = platform_api(method, None, "acme-corp", json=BODY)
    assert response.status_code == 401
    assert response.get_json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == "Token"
    assert stored(platform_world.member, platform_world.platform) == {}


@pytest.mark.parametrize("header", ["Bearer abc", "Basic dXNlcjpwdw==", "abc"])
def test_other_schemes_are_not_authenticated(platform_api, platform_world, header):
    response = platform_api("GET", None, "acme-corp", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize("header", ["Token", "Token a b", "Token  ", "Token\tkey extra"])
def test_a_malformed_token_header_is_not_credentials(platform_api, platform_world, header):
    """The source: "Missing or invalid authorization header" is "not provided"."""
    response = platform_api("GET", None, "acme-corp", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json() == NOT_PROVIDED
    assert response.headers["WWW-Authenticate"] == "Token"


def test_scheme_is_case_insensitive(platform_api, platform_world):
    key = platform_world.token(platform_world.member)
    response = platform_api("GET", None, "acme-corp", headers={"Authorization": f"token {key}"})
    assert response.status_code == 200
    assert response.get_json()["username"] == platform_world.member.username
    assert response.get_json()["platform_key"] == "acme-corp"


@pytest.mark.parametrize("method", METHODS)
def test_unknown_token_is_invalid(platform_api, platform_world, method):
    response = platform_api(method, "not-a-real-token", "acme-corp", json=BODY)
    assert response.status_code == 401
    assert response.get_json() == INVALID
    assert response.headers["WWW-Authenticate"] == "Token"
    assert stored(platform_world.member, platform_world.platform) == {}


def test_revoked_token_is_invalid(platform_api, platform_world):
    key = platform_world.token(platform_world.member)
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == platform_world.member.id))
    accounts.revoke_api_token(Actor.system("cli", "tests"), token)
    db.session.commit()
    response = platform_api("PATCH", key, "acme-corp", json=BODY)
    assert response.status_code == 401
    assert response.get_json() == INVALID
    assert response.headers["WWW-Authenticate"] == "Token"
    assert stored(platform_world.member, platform_world.platform) == {}


def test_inactive_user_is_refused(platform_api, platform_world):
    key = platform_world.token(platform_world.member)
    platform_world.member.is_active = False
    db.session.commit()
    response = platform_api("PATCH", key, "acme-corp", json=BODY)
    assert response.status_code == 401
    assert response.get_json() == {"detail": "User inactive or deleted."}
    assert response.headers["WWW-Authenticate"] == "Token"
    assert stored(platform_world.member, platform_world.platform) == {}


def test_token_use_is_noted_at_most_once_a_minute(platform_api, platform_world):
    token = db.session.scalar(db.select(ApiToken).where(ApiToken.user_id == platform_world.member.id))
    assert token.last_used_at is None
    platform_api("GET", platform_world.token(platform_world.member), "acme-corp")
    db.session.expire_all()
    first = token.last_used_at
    assert first is not None
    platform_api("GET", platform_world.token(platform_world.member), "acme-corp")
    db.session.expire_all()
    assert token.last_used_at == first


# --- order of checks ----------------------------------------------------------------


def test_authentication_comes_before_the_platform_key(platform_api, platform_world):
    response = platform_api("GET", "bad-token")
    assert (response.status_code, response.get_json()) == (401, INVALID)
    response = platform_api("GET")
    assert (response.status_code, response.get_json()) == (401, NOT_PROVIDED)


@pytest.mark.parametrize("method", METHODS)
def test_missing_platform_key(platform_api, platform_world, method):
    key = platform_world.token(platform_world.member)
    for query_key in (None, ""):
        response = platform_api(method, key, query_key, json=BODY)
        assert response.status_code == 400
        assert response.get_json() == KEY_MISSING


def test_missing_platform_key_comes_before_a_bad_body(platform_api, platform_world):
    response = platform_api("PATCH", platform_world.token(platform_world.member), data="{oops")
    assert (response.status_code, response.get_json()) == (400, KEY_MISSING)


@pytest.mark.parametrize("method", METHODS)
def test_unknown_platform(platform_api, platform_world, method):
    response = platform_api(method, platform_world.token(platform_world.member), "no-such", json=BODY)
    assert (response.status_code, response.get_json()) == (404, PLATFORM_NOT_FOUND)


@pytest.mark.parametrize("method", METHODS)
def test_non_member_sees_platform_not_found(platform_api, platform_world, method):
    world = platform_world
    seed(world, world.member, {"secret": 1})
    response = platform_api(method, world.token(world.outsider), "acme-corp", json=BODY)
    assert (response.status_code, response.get_json()) == (404, PLATFORM_NOT_FOUND)
    assert stored(world.member, world.platform) == {"secret": 1}


def test_non_member_naming_a_user_gets_platform_not_found_not_forbidden(platform_api, platform_world):
    world = platform_world
    for username in ("john_doe", "nobody"):
        response = platform_api("GET", world.token(world.outsider), "acme-corp", username)
        assert (response.status_code, response.get_json()) == (404, PLATFORM_NOT_FOUND)


def test_unknown_platform_comes_before_a_bad_body(platform_api, platform_world):
    response = platform_api("PATCH", platform_world.token(platform_world.member), "no-such",
                            data="{oops")
    assert (response.status_code, response.get_json()) == (404, PLATFORM_NOT_FOUND)


@pytest.mark.parametrize("method", METHODS)
def test_member_may_not_name_another_user(platform_api, platform_world, method):
    world = platform_world
    seed(world, world.other_member, {"tier": "basic"})
    response = platform_api(method, world.token(world.member), "acme-corp", "Other_User", json=BODY)
    assert (response.status_code, response.get_json()) == (403, NOT_ADMIN)
    assert stored(world.other_member, world.platform) == {"tier": "basic"}


def test_non_admin_naming_an_unknown_user_is_forbidden_before_not_found(platform_api, platform_world):
    response = platform_api("GET", platform_world.token(platform_world.member), "acme-corp", "ghost")
    assert (response.status_code, response.get_json()) == (403, NOT_ADMIN)


def test_forbidden_comes_before_a_bad_body(platform_api, platform_world):
    response = platform_api("PATCH", platform_world.token(platform_world.member), "acme-corp",
                            "Other_User", data="{oops")
    assert (response.status_code, response.get_json()) == (403, NOT_ADMIN)


def test_support_staff_are_not_tenant_admins_here(platform_api, platform_world):
    world = platform_world
    for method in METHODS:
        response = platform_api(method, world.token(world.support), "acme-corp", "john_doe", json=BODY)
        assert (response.status_code, response.get_json()) == (403, NOT_ADMIN)
    assert stored(world.member, world.platform) == {}


def test_member_may_name_themselves_in_any_case(platform_api, platform_world):
    world = platform_world
    response = platform_api("PATCH", world.token(world.member), "acme-corp", "JOHN_DOE", json=BODY)
    assert response.status_code == 200
    assert response.get_json()["username"] == "john_doe"


def test_empty_username_means_the_caller(platform_api, platform_world):
    response = platform_api("GET", platform_world.token(platform_world.member), "acme-corp", "")
    assert response.status_code == 200
    assert response.get_json()["username"] == "john_doe"


@pytest.mark.parametrize("method", METHODS)
def test_admin_naming_a_non_member_gets_user_not_found(platform_api, platform_world, method):
    world = platform_world
    for username in ("ghost", "olga_outsider"):  # no such user; a user of another tenant only
        response = platform_api(method, world.token(world.admin), "acme-corp", username, json=BODY)
        assert (response.status_code, response.get_json()) == (404, USER_NOT_FOUND)
    assert stored(world.outsider, world.platform) == {}


def test_user_not_found_comes_before_a_bad_body(platform_api, platform_world):
    response = platform_api("PATCH", platform_world.token(platform_world.admin), "acme-corp",
                            "ghost", data="{oops")
    assert (response.status_code, response.get_json()) == (404, USER_NOT_FOUND)


# --- who may act on whom ------------------------------------------------------------


def test_username_matches_case_insensitively(platform_api, platform_world):
    world = platform_world
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "oTHER_uSER",
                            json={"metadata": {"tier": "premium"}})
    assert response.status_code == 200
    assert response.get_json()["username"] == "Other_User"  # as stored
    assert stored(world.other_member, world.platform) == {"tier": "premium"}


def test_admin_of_one_platform_has_no_power_on_another(platform_api, platform_world):
    world = platform_world
    # The admin of acme-corp is a plain member of globex, as is the outsider.
    add_member(world.other_platform, world.admin)
    documents.replace_document(Actor.system("cli", "tests"), world.outsider, world.other_platform,
                               {"x": 1})
    db.session.commit()
    for method in METHODS:
        response = platform_api(method, world.token(world.admin), "globex", "olga_outsider",
                                json=BODY)
        assert (response.status_code, response.get_json()) == (403, NOT_ADMIN)
    assert stored(world.outsider, world.other_platform) == {"x": 1}


def test_admin_of_one_platform_cannot_reach_a_shared_user_elsewhere(platform_api, platform_world):
    """A user in both tenants: acme's admin edits the acme document only."""
    world = platform_world
    add_member(world.other_platform, world.member)
    documents.replace_document(Actor.system("cli", "tests"), world.member, world.other_platform,
                               {"globex": True})
    db.session.commit()
    response = platform_api("GET", world.token(world.admin), "globex", "john_doe")
    assert (response.status_code, response.get_json()) == (404, PLATFORM_NOT_FOUND)
    response = platform_api("PATCH", world.token(world.admin), "acme-corp", "john_doe",
                            json={"metadata": {"acme": True}})
    assert response.status_code == 200
    assert stored(world.member, world.platform) == {"acme": True}
    assert stored(world.member, world.other_platform) == {"globex": True}


def test_superadmin_acts_on_every_platform_without_membership(platform_api, platform_world):
    world = platform_world
    key = world.token(world.superadmin)
    response = platform_api("PATCH", key, "globex", "olga_outsider", json={"metadata": {"a": 1}})
    assert response.status_code == 200
    assert response.get_json()["username"] == "olga_outsider"
    assert stored(world.outsider, world.other_platform) == {"a": 1}
    response = platform_api("DELETE", key, "globex", "olga_outsider")
    assert response.status_code == 204
    assert stored(world.outsider, world.other_platform) == {}
    response = platform_api("GET", key, "acme-corp", "ghost")
    assert (response.status_code, response.get_json()) == (404, USER_NOT_FOUND)


@pytest.mark.parametrize("method", METHODS)
def test_a_superadmin_has_no_document_of_their_own_where_they_are_no_member(
        platform_api, platform_world, method):
    """Superadmins act on members' documents everywhere; a non-member has none to act on,
    so no document appears that no member list shows."""
    world = platform_world
    key = world.token(world.superadmin)
    for username in (None, "root", "ROOT"):
        response = platform_api(method, key, "acme-corp", username, json={"metadata": {"a": 1}})
        assert (response.status_code, response.get_json()) == (404, USER_NOT_FOUND)
    assert stored(world.superadmin, world.platform) == {}


def test_superadmin_cannot_reach_a_user_who_is_not_a_member(platform_api, platform_world):
    world = platform_world
    response = platform_api("GET", world.token(world.superadmin), "globex", "john_doe")
    assert (response.status_code, response.get_json()) == (404, USER_NOT_FOUND)


def test_documents_are_per_platform(platform_api, app):
    """Example 4 of the source: one user, different settings on two platforms."""
    user = make_user("multi", password="")
    corporate, personal = make_platform("corporate"), make_platform("personal")
    add_member(corporate, user)
    add_member(personal, user)
    key = make_api_token(user)
    corp = {"theme": "light", "notifications": "all", "language": "en"}
    pers = {"theme": "dark", "notifications": "important-only", "language": "es"}
    assert platform_api("PATCH", key, "corporate", json={"metadata": corp}).status_code == 200
    assert platform_api("PATCH", key, "personal", json={"metadata": pers}).status_code == 200
    assert platform_api("GET", key, "corporate").get_json()["metadata"] == corp
    assert platform_api("GET", key, "personal").get_json()["metadata"] == pers
    assert platform_api("DELETE", key, "personal").status_code == 204
    assert platform_api("GET", key, "corporate").get_json()["metadata"] == corp
