"""/oauth/token with the authorization-code grant: PKCE, exact redirect URI, single-use
short-lived codes, lifetimes, and what ends up stored."""
from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select, update

from tests.factories import make_client
from tests.oauth.helpers import REDIRECT_URI, exchange, obtain_code, pkce_pair
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import OAuth2AuthorizationCode, OAuth2Token
from webapp.oauth.tokens import find_access_token


def tokens() -> list[OAuth2Token]:
    db.session.expire_all()
    return list(db.session.scalars(select(OAuth2Token).order_by(OAuth2Token.id)))


def assert_refused(response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert body["error"] == error, body
    assert "access_token" not in body


def test_confidential_client_without_pkce_gets_tokens(browser, confidential, alice):
    client, secret = confidential
    code = obtain_code(browser, client.client_id, scope="metadata.read")

    response = exchange(browser, code, client_id=client.client_id, secret=secret)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["scope"] == "metadata.read"
    assert body["refresh_token"] and body["access_token"] != body["refresh_token"]
    assert response.headers["Cache-Control"] == "no-store"
    (stored,) = tokens()
    assert stored.access_token == hash_token(body["access_token"])
    assert stored.refresh_token == hash_token(body["refresh_token"])
    assert (stored.user_id, stored.client_id, stored.scope) == (
        alice.id, client.client_id, "metadata.read")
    assert stored.expires_in == 3600 and abs(stored.issued_at - time.time()) < 60
    assert db.session.scalar(select(func.count()).select_from(OAuth2AuthorizationCode)) == 0


def test_confidential_client_with_pkce_must_present_the_verifier(browser, confidential):
    client, secret = confidential
    verifier, challenge = pkce_pair()

    code = obtain_code(browser, client.client_id, code_challenge=challenge,
                       code_challenge_method="S256")
    assert_refused(exchange(browser, code, client_id=client.client_id, secret=secret),
                   "invalid_request")
    assert_refused(exchange(browser, code, client_id=client.client_id, secret=secret,
                            verifier=pkce_pair()[0]), "invalid_grant")
    ok = exchange(browser, code, client_id=client.client_id, secret=secret, verifier=verifier)

    assert ok.status_code == 200, ok.get_data(as_text=True)
    assert len(tokens()) == 1


def test_verifier_without_a_challenge_is_refused(browser, confidential):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)

    response = exchange(browser, code, client_id=client.client_id, secret=secret,
                        verifier=pkce_pair()[0])

    assert_refused(response, "invalid_request")
    assert tokens() == []


def test_public_client_exchanges_with_the_right_verifier_only(browser, public, alice):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, public.client_id, code_challenge=challenge,
                       code_challenge_method="S256")

    assert_refused(exchange(browser, code, client_id=public.client_id), "invalid_request")
    assert_refused(exchange(browser, code, client_id=public.client_id,
                            verifier=pkce_pair()[0]), "invalid_grant")
    assert tokens() == []
    response = exchange(browser, code, client_id=public.client_id, verifier=verifier)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["refresh_token"] and body["expires_in"] == 3600
    (stored,) = tokens()
    assert (stored.user_id, stored.client_id) == (alice.id, public.client_id)


def test_public_client_cannot_pretend_to_have_a_secret(browser, public):
    verifier, challenge = pkce_pair()
    code = obtain_code(browser, public.client_id, code_challenge=challenge,
                       code_challenge_method="S256")

    response = exchange(browser, code, client_id=public.client_id, secret="made-up",
                        verifier=verifier)

    assert_refused(response, "invalid_client", 401)
    assert tokens() == []


def test_confidential_client_must_authenticate(browser, confidential):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)

    assert_refused(exchange(browser, code, client_id=client.client_id), "invalid_client", 401)
    assert_refused(exchange(browser, code, client_id=client.client_id, secret=secret + "x"),
                   "invalid_client", 401)
    assert tokens() == []
    assert exchange(browser, code, client_id=client.client_id, secret=secret).status_code == 200


def test_redirect_uri_must_repeat_the_one_of_the_request(browser, platform):
    client, secret = make_client(platform, redirect_uris=(REDIRECT_URI, "https://b.example/cb"))
    code = obtain_code(browser, client.client_id)

    for other in ("https://b.example/cb", REDIRECT_URI + "/", None):
        response = exchange(browser, code, client_id=client.client_id, secret=secret,
                            redirect_uri=other)
        assert_refused(response, "invalid_grant")
    assert tokens() == []


def test_code_of_another_client_is_refused(browser, confidential, platform):
    client, _ = confidential
    other, other_secret = make_client(platform, name="Other")
    code = obtain_code(browser, client.client_id)

    response = exchange(browser, code, client_id=other.client_id, secret=other_secret)

    assert_refused(response, "invalid_grant")
    assert tokens() == []


def test_code_works_once_and_a_replay_revokes_what_it_issued(browser, confidential):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    first = exchange(browser, code, client_id=client.client_id, secret=secret).get_json()
    assert find_access_token(first["access_token"]).is_revoked() == 0

    replay = exchange(browser, code, client_id=client.client_id, secret=secret)

    assert_refused(replay, "invalid_grant")
    (stored,) = tokens()
    assert stored.access_token_revoked_at and stored.refresh_token_revoked_at
    assert find_access_token(first["access_token"]).is_revoked()


def test_code_expires_after_the_configured_lifetime(browser, confidential, app):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    lifetime = app.config["OAUTH2_AUTH_CODE_EXPIRES_IN"]
    assert lifetime == 300
    db.session.execute(update(OAuth2AuthorizationCode)
                       .values(auth_time=int(time.time()) - lifetime - 5))
    db.session.commit()

    response = exchange(browser, code, client_id=client.client_id, secret=secret)

    assert_refused(response, "invalid_grant")
    assert tokens() == []


def test_expired_codes_are_swept_when_new_ones_are_issued(browser, confidential, app):
    client, secret = confidential
    stale = obtain_code(browser, client.client_id)
    db.session.execute(update(OAuth2AuthorizationCode).values(
        auth_time=int(time.time()) - app.config["OAUTH2_AUTH_CODE_EXPIRES_IN"] - 5))
    db.session.commit()

    fresh = obtain_code(browser, client.client_id)

    db.session.expire_all()
    assert list(db.session.scalars(select(OAuth2AuthorizationCode.code))) == [hash_token(fresh)]
    assert hash_token(stale) != hash_token(fresh)


def test_no_refresh_token_for_clients_without_the_refresh_grant(browser, platform):
    client, secret = make_client(platform, grant_types=("authorization_code",))
    code = obtain_code(browser, client.client_id)

    body = exchange(browser, code, client_id=client.client_id, secret=secret).get_json()

    assert "refresh_token" not in body and body["access_token"]
    (stored,) = tokens()
    assert stored.refresh_token is None


def test_code_just_inside_its_lifetime_still_works(browser, confidential, app):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    db.session.execute(update(OAuth2AuthorizationCode).values(
        auth_time=int(time.time()) - app.config["OAUTH2_AUTH_CODE_EXPIRES_IN"] + 30))
    db.session.commit()

    response = exchange(browser, code, client_id=client.client_id, secret=secret)
    assert response.status_code == 200
    tokens = response.get_json()
    assert tokens["token_type"] == "Bearer" and tokens["access_token"] and tokens["refresh_token"]
    assert find_access_token(tokens["access_token"]).client_id == client.client_id


def test_code_of_a_user_deactivated_since_is_refused(browser, confidential, alice):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    alice.is_active = False
    db.session.commit()

    response = exchange(browser, code, client_id=client.client_id, secret=secret)

    assert_refused(response, "invalid_grant")
    assert tokens() == []


@pytest.mark.parametrize("lifetime", [600, 90])
def test_access_token_lifetime_comes_from_settings(make_app, platform, alice, lifetime):
    from tests.oauth.conftest import FreshRequestClient
    from tests.oauth.helpers import login

    other_app = make_app(OAUTH2_ACCESS_TOKEN_EXPIRES_IN=lifetime)
    client, secret = make_client(platform)
    client_id = client.client_id
    db.session.rollback()  # the other app's requests must not wait on this session's SQLite lock
    with other_app.app_context():
        browser = FreshRequestClient(other_app, other_app.response_class, use_cookies=True)
        login(browser, "alice")
        code = obtain_code(browser, client_id)
        body = exchange(browser, code, client_id=client_id, secret=secret).get_json()
        db.session.remove()
    assert body["expires_in"] == lifetime
    assert find_access_token(body["access_token"]).expires_in == lifetime


def test_password_grant_is_not_offered(browser, confidential, alice):
    client, secret = confidential

    response = browser.post("/oauth/token", auth=(client.client_id, secret), data={
        "grant_type": "password", "username": "alice",
        "password": "correct horse battery staple"})

    assert_refused(response, "unsupported_grant_type")
    assert tokens() == []


def test_client_without_the_code_grant_cannot_exchange(browser, platform, confidential):
    client, _ = confidential
    code = obtain_code(browser, client.client_id)
    cc_client, cc_secret = make_client(platform, grant_types=("client_credentials",))

    response = exchange(browser, code, client_id=cc_client.client_id, secret=cc_secret)

    assert_refused(response, "unauthorized_client")
    assert tokens() == []
    assert db.session.scalar(select(func.count()).select_from(OAuth2AuthorizationCode)) == 1
