"""/oauth/revoke (RFC 7009) and /oauth/introspect (RFC 7662): each client sees and ends
only its own tokens."""
from __future__ import annotations

import time

from sqlalchemy import update

from tests.factories import bearer_token, make_client, make_user
from tests.oauth.helpers import exchange, obtain_code, pkce_pair, refresh, token_request
from webapp.extensions import db
from webapp.models import OAuth2Token
from webapp.oauth.tokens import find_access_token, find_refresh_token


def issued(browser, client, secret) -> dict:
    code = obtain_code(browser, client.client_id)
    return exchange(browser, code, client_id=client.client_id, secret=secret).get_json()


def introspect(http, token: str, client_id: str, secret: str | None, **extra):
    return token_request(http, {"token": token, **extra}, client_id=client_id, secret=secret,
                         path="/oauth/introspect")


def revoke(http, token: str, client_id: str, secret: str | None, **extra):
    return token_request(http, {"token": token, **extra}, client_id=client_id, secret=secret,
                         path="/oauth/revoke")


def test_introspecting_an_own_access_token(browser, confidential, alice):
    client, secret = confidential
    tokens = issued(browser, client, secret)

    response = introspect(browser, tokens["access_token"], client.client_id, secret)

    assert response.status_code == 200
    body = response.get_json()
    stored = find_access_token(tokens["access_token"])
    assert body == {
        "active": True, "client_id": client.client_id, "token_type": "Bearer",
        "scope": "metadata.read metadata.write", "username": "alice", "sub": str(alice.id),
        "iat": stored.issued_at, "exp": stored.issued_at + 3600,
    }


def test_introspecting_an_own_refresh_token_reports_its_own_expiry(browser, confidential, app):
    client, secret = confidential
    tokens = issued(browser, client, secret)

    body = introspect(browser, tokens["refresh_token"], client.client_id, secret,
                      token_type_hint="refresh_token").get_json()

    stored = find_refresh_token(tokens["refresh_token"])
    assert body["active"] is True and body["username"] == "alice"
    assert body["exp"] == stored.issued_at + app.config["OAUTH2_REFRESH_TOKEN_EXPIRES_IN"]
    assert "token_type" not in body


def test_another_clients_token_reads_inactive(browser, confidential, platform):
    client, secret = confidential
    other, other_secret = make_client(platform, name="Other")
    tokens = issued(browser, client, secret)

    for token in (tokens["access_token"], tokens["refresh_token"]):
        response = introspect(browser, token, other.client_id, other_secret)
        assert response.status_code == 200
        assert response.get_json() == {"active": False}
    # ...while its own client still sees it active.
    assert introspect(browser, tokens["access_token"], client.client_id,
                      secret).get_json()["active"] is True


def test_revoked_expired_and_unknown_tokens_read_inactive(browser, confidential):
    client, secret = confidential
    revoked = issued(browser, client, secret)
    expired = issued(browser, client, secret)
    revoke(browser, revoked["access_token"], client.client_id, secret)
    db.session.execute(update(OAuth2Token)
                       .where(OAuth2Token.id == find_access_token(expired["access_token"]).id)
                       .values(issued_at=int(time.time()) - 3700))
    db.session.commit()

    for token in (revoked["access_token"], expired["access_token"], "no-such-token"):
        assert introspect(browser, token, client.client_id, secret).get_json() == {"active": False}
    # The expired access token's refresh token lives longer.
    assert introspect(browser, expired["refresh_token"], client.client_id,
                      secret).get_json()["active"] is True


def test_tokens_of_a_deactivated_user_read_inactive(browser, confidential, alice):
    client, secret = confidential
    tokens = issued(browser, client, secret)
    alice.is_active = False
    db.session.commit()

    assert introspect(browser, tokens["access_token"], client.client_id,
                      secret).get_json() == {"active": False}


def test_client_credentials_token_introspects_without_a_user(anonymous, platform):
    client, secret = make_client(platform, grant_types=("client_credentials",))
    token = token_request(anonymous, {"grant_type": "client_credentials"},
                          client_id=client.client_id, secret=secret).get_json()["access_token"]

    body = introspect(anonymous, token, client.client_id, secret).get_json()

    assert body["active"] is True and body["client_id"] == client.client_id
    assert "username" not in body and "sub" not in body


def test_introspection_needs_client_authentication(anonymous, confidential, public, alice):
    client, secret = confidential
    token = bearer_token(client, alice)

    for bad_secret in (None, "wrong"):
        response = introspect(anonymous, token, client.client_id, bad_secret)
        assert (response.status_code, response.get_json()["error"]) == (401, "invalid_client")
        assert "active" not in response.get_json()  # nothing about the token is told
    assert introspect(anonymous, token, public.client_id, None).status_code == 401
    missing = token_request(anonymous, {}, client_id=client.client_id, secret=secret,
                            path="/oauth/introspect")
    assert missing.status_code == 400 and missing.get_json()["error"] == "invalid_request"


def test_revoking_an_access_token_leaves_the_refresh_token(browser, confidential):
    client, secret = confidential
    tokens = issued(browser, client, secret)

    response = revoke(browser, tokens["access_token"], client.client_id, secret,
                      token_type_hint="access_token")

    assert response.status_code == 200 and response.get_json() == {}
    stored = find_access_token(tokens["access_token"])
    assert stored.access_token_revoked_at and not stored.refresh_token_revoked_at
    assert refresh(browser, tokens["refresh_token"], client_id=client.client_id,
                   secret=secret).status_code == 200


def test_revoking_a_refresh_token_ends_its_whole_family(browser, confidential):
    client, secret = confidential
    first = issued(browser, client, secret)
    second = refresh(browser, first["refresh_token"], client_id=client.client_id,
                     secret=secret).get_json()
    unrelated = issued(browser, client, secret)

    # A wrong hint is only a hint: the server looks the token up either way.
    response = revoke(browser, second["refresh_token"], client.client_id, secret,
                      token_type_hint="access_token")

    assert response.status_code == 200
    assert find_access_token(second["access_token"]).is_revoked()
    assert find_refresh_token(second["refresh_token"]).refresh_token_revoked_at
    assert not find_access_token(unrelated["access_token"]).is_revoked()
    assert refresh(browser, second["refresh_token"], client_id=client.client_id,
                   secret=secret).status_code == 400


def test_a_client_cannot_revoke_another_clients_token(browser, confidential, platform):
    client, secret = confidential
    other, other_secret = make_client(platform, name="Other")
    tokens = issued(browser, client, secret)

    response = revoke(browser, tokens["access_token"], other.client_id, other_secret)

    assert response.status_code == 400 and response.get_json()["error"] == "invalid_grant"
    assert not find_access_token(tokens["access_token"]).is_revoked()


def test_unknown_token_revocation_succeeds_quietly(anonymous, confidential):
    client, secret = confidential

    response = revoke(anonymous, "no-such-token", client.client_id, secret)

    assert response.status_code == 200 and response.get_json() == {}


def test_revocation_needs_client_authentication(anonymous, confidential, alice):
    client, secret = confidential
    token = bearer_token(client, alice)

    for bad_secret in (None, "wrong"):
        response = revoke(anonymous, token, client.client_id, bad_secret)
        assert response.status_code == 401
        assert response.get_json()["error"] == "invalid_client"
    assert not find_access_token(token).is_revoked()


def test_public_client_revokes_its_own_token_with_its_client_id(browser, public):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, public.client_id, code_challenge=challenge,
                       code_challenge_method="S256")
    tokens = exchange(browser, code, client_id=public.client_id, verifier=verifier).get_json()

    response = revoke(browser, tokens["refresh_token"], public.client_id, None)

    assert response.status_code == 200
    assert find_refresh_token(tokens["refresh_token"]).refresh_token_revoked_at


def test_revoke_and_introspect_need_no_csrf_token(anonymous, confidential):
    client, secret = confidential
    user = make_user("carol")
    token = bearer_token(client, user)

    revoked = revoke(anonymous, token, client.client_id, secret)
    assert (revoked.status_code, revoked.get_json()) == (200, {})
    assert find_access_token(token).is_revoked()
    introspected = introspect(anonymous, token, client.client_id, secret)
    assert (introspected.status_code, introspected.get_json()) == (200, {"active": False})
