"""Who a token acts for, decided on every request (issue 10, items 1 and 7; CONTRACT §5, §6).

- Ending a membership ends that user's Bearer tokens for the platform's clients at once.
- An API token someone else made for its user (a tenant admin in the dashboard) acts with
  member rights only, whatever role its user holds now or later.
"""
from __future__ import annotations

from sqlalchemy import func, select

from tests.api.conftest import METADATA_PATH
from tests.factories import FACTORY, add_member, bearer_token, make_client
from webapp import accounts
from webapp.extensions import db
from webapp.metadata.audit import Actor
from webapp.models import ApiToken, AuditEvent, ClientMetadataEntry, PlatformDocument, User

NOT_ADMIN = {"error": "Only tenant admins can access other users' metadata"}


# --- item 1: an ended membership ends the Bearer tokens --------------------------------

def test_ending_a_membership_ends_the_bearer_token_on_the_next_request(client, caller):
    assert client.put(f"{METADATA_PATH}/theme", json={"value": "dark"},
                      headers=caller.headers).status_code == 201
    accounts.remove_membership(FACTORY, caller.platform, caller.user)
    db.session.commit()
    for method, path, body in (("GET", METADATA_PATH, None), ("GET", f"{METADATA_PATH}/theme", None),
                               ("PUT", f"{METADATA_PATH}/theme", {"value": "evil"}),
                               ("DELETE", f"{METADATA_PATH}/theme", None)):
        response = client.open(path, method=method, json=body, headers=caller.headers)
        assert response.status_code == 401, (method, path)
        assert response.get_json() == {"message": "Unauthenticated."}
        assert response.headers["WWW-Authenticate"] == "Bearer"
    db.session.rollback()
    assert db.session.scalar(select(ClientMetadataEntry.value)) == "dark"


def test_a_membership_of_another_platform_does_not_keep_the_token(client, caller):
    """The membership that counts is of the client's platform, not any platform."""
    from tests.factories import make_platform

    elsewhere = make_platform()
    add_member(elsewhere, caller.user)
    accounts.remove_membership(FACTORY, caller.platform, caller.user)
    db.session.commit()
    assert client.get(METADATA_PATH, headers=caller.headers).status_code == 401


def test_taken_in_again_the_old_token_stays_refused(client, caller):
    """Ending a membership revokes the user's tokens for the platform's clients: joining
    again later does not bring an old token back to life."""
    accounts.remove_membership(FACTORY, caller.platform, caller.user)
    db.session.commit()
    assert client.get(METADATA_PATH, headers=caller.headers).status_code == 401
    add_member(caller.platform, caller.user)
    again = client.get(METADATA_PATH, headers=caller.headers)
    assert again.status_code == 401 and again.get_json() == {"message": "Unauthenticated."}


def test_another_clients_token_of_the_same_user_is_unaffected(client, caller):
    from tests.factories import make_platform

    other_platform = make_platform()
    other_client, _ = make_client(other_platform)
    other = bearer_token(other_client, caller.user)
    accounts.remove_membership(FACTORY, caller.platform, caller.user)
    db.session.commit()
    response = client.get(METADATA_PATH, headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 200


# --- item 7: tokens made by someone else carry member rights only -----------------------

def _dashboard_token(admin: User, user: User, platform) -> str:
    issued = accounts.create_api_token(Actor(via="dashboard", user=admin), user, "by admin",
                                       platform=platform)
    db.session.commit()
    return issued.key


def _get(platform_api, key: str, username: str | None = None):
    return platform_api("GET", key, "acme-corp", username)


def test_demote_mint_promote_does_not_reach_other_users(platform_api, platform_world):
    world = platform_world
    _put_document(platform_api, world, world.other_member, {"secret": "theirs"})
    key = _dashboard_token(world.admin, world.member, world.platform)
    accounts.set_membership(FACTORY, world.platform, world.member, "admin")  # promoted later
    db.session.commit()
    before = _documents()
    for method in ("GET", "PATCH", "PUT", "DELETE"):
        response = platform_api(method, key, "acme-corp", world.other_member.username,
                                json={"metadata": {"x": 1}} if method in ("PATCH", "PUT") else None)
        assert response.status_code == 403, method
        assert response.get_json() == NOT_ADMIN
    assert _documents() == before
    # its own user's document it still reaches
    assert _get(platform_api, key).status_code == 200
    assert platform_api("PATCH", key, "acme-corp", json={"metadata": {"mine": 1}}).status_code == 200


def test_a_token_made_for_an_admin_by_a_superadmin_acts_as_a_member(platform_api, platform_world):
    world = platform_world
    key = _dashboard_token(world.superadmin, world.admin, world.platform)
    response = _get(platform_api, key, world.member.username)
    assert response.status_code == 403
    assert response.get_json() == NOT_ADMIN
    assert _get(platform_api, key).status_code == 200


def test_a_users_own_token_keeps_the_users_role(platform_api, platform_world):
    world = platform_world
    key = _dashboard_token(world.admin, world.admin, world.platform)
    assert _get(platform_api, key, world.member.username).status_code == 200


def test_member_rights_survive_the_creators_deletion(platform_api, platform_world):
    """`created_by_id` is cleared when the creator goes; the rule must not go with it."""
    world = platform_world
    key = _dashboard_token(world.admin, world.member, world.platform)
    accounts.set_membership(FACTORY, world.platform, world.member, "admin")
    db.session.commit()
    db.session.delete(db.session.get(User, world.admin.id))
    db.session.commit()
    token = db.session.scalar(select(ApiToken).where(ApiToken.name == "by admin"))
    assert token.created_by_id is None
    assert _get(platform_api, key, world.other_member.username).status_code == 403


def test_a_superadmin_promoted_later_gains_nothing_through_the_token(platform_api,
                                                                     platform_world):
    world = platform_world
    key = _dashboard_token(world.admin, world.member, world.platform)
    db.session.get(User, world.member.id).is_superadmin = True
    db.session.commit()
    response = _get(platform_api, key, world.other_member.username)
    assert response.status_code == 403
    assert response.get_json() == NOT_ADMIN


def _put_document(platform_api, world, user: User, metadata: dict) -> None:
    response = platform_api("PUT", world.token(world.admin), "acme-corp", user.username,
                            json={"metadata": metadata})
    assert response.status_code == 200


def _documents():
    db.session.rollback()
    rows = db.session.execute(select(PlatformDocument.user_id, PlatformDocument.data,
                                     PlatformDocument.version).order_by(PlatformDocument.id))
    events = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return [tuple(row) for row in rows], events


