"""Refresh tokens: rotated on every use; a second use of a rotated one revokes the family."""
from __future__ import annotations

import time

from sqlalchemy import select, update

from tests.factories import make_client
from tests.oauth.helpers import exchange, obtain_code, pkce_pair, refresh
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import OAuth2Token
from webapp.oauth.tokens import find_access_token, find_refresh_token


def first_tokens(browser, client, secret, **params) -> dict:
    code = obtain_code(browser, client.client_id, **params)
    response = exchange(browser, code, client_id=client.client_id, secret=secret)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_json()


def all_tokens() -> list[OAuth2Token]:
    db.session.expire_all()
    return list(db.session.scalars(select(OAuth2Token).order_by(OAuth2Token.id)))


def test_refresh_rotates_and_retires_the_old_pair(browser, confidential, alice):
    client, secret = confidential
    first = first_tokens(browser, client, secret)

    response = refresh(browser, first["refresh_token"], client_id=client.client_id, secret=secret)

    assert response.status_code == 200, response.get_data(as_text=True)
    second = response.get_json()
    assert second["refresh_token"] not in (None, first["refresh_token"])
    assert second["access_token"] != first["access_token"]
    assert second["expires_in"] == 3600 and second["scope"] == first["scope"]
    old, new = all_tokens()
    assert old.refresh_token_revoked_at and old.access_token_revoked_at
    assert not new.is_revoked() and new.user_id == alice.id
    assert new.family_id == old.family_id
    assert new.refresh_token == hash_token(second["refresh_token"])
    # The new refresh token works in turn.
    third = refresh(browser, second["refresh_token"], client_id=client.client_id, secret=secret)
    assert third.status_code == 200


def test_reusing_a_rotated_refresh_token_revokes_the_whole_family(browser, confidential):
    client, secret = confidential
    first = first_tokens(browser, client, secret)
    second = refresh(browser, first["refresh_token"], client_id=client.client_id,
                     secret=secret).get_json()
    unrelated = first_tokens(browser, client, secret)

    replay = refresh(browser, first["refresh_token"], client_id=client.client_id, secret=secret)

    assert replay.status_code == 400 and replay.get_json()["error"] == "invalid_grant"
    assert find_access_token(second["access_token"]).is_revoked()
    assert find_refresh_token(second["refresh_token"]).refresh_token_revoked_at
    assert not find_access_token(unrelated["access_token"]).is_revoked()
    # The thief's copy and the client's current one are both dead now.
    after = refresh(browser, second["refresh_token"], client_id=client.client_id, secret=secret)
    assert after.status_code == 400 and after.get_json()["error"] == "invalid_grant"
    assert len(all_tokens()) == 3


def test_public_client_refreshes_with_auth_method_none(browser, public):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, public.client_id, code_challenge=challenge,
                       code_challenge_method="S256")
    first = exchange(browser, code, client_id=public.client_id, verifier=verifier).get_json()

    response = refresh(browser, first["refresh_token"], client_id=public.client_id)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["refresh_token"] != first["refresh_token"]
    assert find_refresh_token(first["refresh_token"]).refresh_token_revoked_at


def test_confidential_client_cannot_refresh_without_its_secret(browser, confidential):
    client, secret = confidential
    first = first_tokens(browser, client, secret)

    response = refresh(browser, first["refresh_token"], client_id=client.client_id)

    assert response.status_code == 401 and response.get_json()["error"] == "invalid_client"
    assert not find_refresh_token(first["refresh_token"]).refresh_token_revoked_at


def test_another_client_cannot_use_the_refresh_token(browser, confidential, platform):
    client, secret = confidential
    other, other_secret = make_client(platform, name="Other")
    first = first_tokens(browser, client, secret)

    response = refresh(browser, first["refresh_token"], client_id=other.client_id,
                       secret=other_secret)

    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert not find_refresh_token(first["refresh_token"]).refresh_token_revoked_at
    assert len(all_tokens()) == 1


def test_refresh_token_expires_after_its_lifetime(browser, confidential, app):
    client, secret = confidential
    first = first_tokens(browser, client, secret)
    lifetime = app.config["OAUTH2_REFRESH_TOKEN_EXPIRES_IN"]
    db.session.execute(update(OAuth2Token).values(issued_at=int(time.time()) - lifetime - 5))
    db.session.commit()

    response = refresh(browser, first["refresh_token"], client_id=client.client_id, secret=secret)

    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert len(all_tokens()) == 1


def test_refresh_may_narrow_the_scope_but_never_widen_it(browser, confidential):
    client, secret = confidential
    first = first_tokens(browser, client, secret, scope="metadata.read")

    wider = refresh(browser, first["refresh_token"], client_id=client.client_id, secret=secret,
                    scope="metadata.read metadata.write")
    assert wider.status_code == 400 and wider.get_json()["error"] == "invalid_scope"
    assert not find_refresh_token(first["refresh_token"]).refresh_token_revoked_at

    full = first_tokens(browser, client, secret)
    narrower = refresh(browser, full["refresh_token"], client_id=client.client_id,
                       secret=secret, scope="metadata.write")
    assert narrower.status_code == 200
    assert narrower.get_json()["scope"] == "metadata.write"
    assert find_access_token(narrower.get_json()["access_token"]).scope == "metadata.write"


def test_refresh_for_a_deactivated_user_is_refused(browser, confidential, alice):
    client, secret = confidential
    first = first_tokens(browser, client, secret)
    alice.is_active = False
    db.session.commit()

    response = refresh(browser, first["refresh_token"], client_id=client.client_id, secret=secret)

    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert len(all_tokens()) == 1


def test_unknown_refresh_token_is_refused(browser, confidential):
    client, secret = confidential

    response = refresh(browser, "not-a-token", client_id=client.client_id, secret=secret)

    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert all_tokens() == []
