"""The client-credentials grant: confidential clients only, tokens without a user."""
from __future__ import annotations

from sqlalchemy import select

from tests.factories import make_client
from tests.oauth.helpers import token_request
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import OAuth2Token


def stored_tokens() -> list[OAuth2Token]:
    return list(db.session.scalars(select(OAuth2Token)))


def test_token_carries_no_user_and_no_refresh_token(anonymous, platform):
    app_client, secret = make_client(platform, grant_types=("client_credentials",),
                                     scope="metadata.read")

    response = token_request(anonymous, {"grant_type": "client_credentials"},
                             client_id=app_client.client_id, secret=secret)

    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert "refresh_token" not in body
    assert body["expires_in"] == 3600 and body["scope"] == "metadata.read"
    (stored,) = stored_tokens()
    assert stored.user_id is None and stored.refresh_token is None
    assert stored.access_token == hash_token(body["access_token"])


def test_scope_is_limited_to_the_clients_scopes(anonymous, platform):
    app_client, secret = make_client(platform, grant_types=("client_credentials",),
                                     scope="metadata.read")

    for scope in ("metadata.write", "metadata.read metadata.write", "admin"):
        response = token_request(anonymous, {"grant_type": "client_credentials", "scope": scope},
                                 client_id=app_client.client_id, secret=secret)
        assert response.status_code == 400, scope
        assert response.get_json()["error"] == "invalid_scope"
    assert stored_tokens() == []


def test_clients_not_registered_for_it_are_refused(anonymous, confidential):
    app_client, secret = confidential  # authorization_code + refresh_token only

    response = token_request(anonymous, {"grant_type": "client_credentials"},
                             client_id=app_client.client_id, secret=secret)

    assert response.status_code == 400
    assert response.get_json()["error"] == "unauthorized_client"
    assert stored_tokens() == []


def test_public_clients_cannot_use_it(anonymous, public):
    response = token_request(anonymous, {"grant_type": "client_credentials"},
                             client_id=public.client_id)

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert stored_tokens() == []


def test_wrong_secret_is_refused(anonymous, platform):
    app_client, secret = make_client(platform, grant_types=("client_credentials",))

    response = token_request(anonymous, {"grant_type": "client_credentials"},
                             client_id=app_client.client_id, secret=secret[:-1])

    assert response.status_code == 401
    assert response.get_json()["error"] == "invalid_client"
    assert stored_tokens() == []
