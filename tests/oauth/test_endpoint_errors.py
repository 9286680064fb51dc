"""/oauth/token, /oauth/revoke and /oauth/introspect answer JSON whatever goes wrong
(CONTRACT section 5): undecodable client credentials are a 401 invalid_client, never a
500; 405 and 413 are JSON; an unknown token_type_hint is ignored."""
from __future__ import annotations

import base64

import pytest
from sqlalchemy import func, select

from tests.factories import bearer_token
from tests.oauth.helpers import token_request
from webapp.extensions import db
from webapp.models import OAuth2Token
from webapp.oauth.tokens import find_access_token

ENDPOINTS = ["/oauth/token", "/oauth/revoke", "/oauth/introspect"]


def basic(raw: bytes) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(raw).decode("ascii")}


def token_rows() -> list[tuple]:
    db.session.expire_all()
    return list(db.session.execute(select(OAuth2Token.id, OAuth2Token.access_token_revoked_at,
                                          OAuth2Token.refresh_token_revoked_at)))


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("raw", [b"\xff\xfe:\xff", b"client\xe9:secret", b"\x80"])
def test_credentials_that_are_not_utf8_are_an_invalid_client(anonymous, confidential, alice,
                                                             path, raw):
    client, _ = confidential
    token = bearer_token(client, alice)
    before = token_rows()

    response = anonymous.post(path, headers=basic(raw), data={
        "grant_type": "client_credentials", "token": token})

    assert response.status_code == 401
    assert response.is_json and response.get_json()["error"] == "invalid_client"
    assert "Traceback" not in response.get_data(as_text=True)
    assert token_rows() == before
    assert db.session.scalar(select(func.count()).select_from(OAuth2Token)) == 1


@pytest.mark.parametrize("path", ENDPOINTS)
@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_other_methods_get_a_json_405(anonymous, path, method):
    response = anonymous.open(path, method=method)

    assert response.status_code == 405
    assert response.is_json
    assert response.get_json()["error"] == "invalid_request"
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("path", ENDPOINTS)
def test_a_body_too_large_gets_a_json_413(anonymous, confidential, path, app):
    client, secret = confidential
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)

    response = anonymous.post(path, data={"token": big, "grant_type": "client_credentials"},
                              auth=(client.client_id, secret))

    assert response.status_code == 413
    assert response.is_json and response.get_json()["error"] == "invalid_request"


@pytest.mark.parametrize("hint", ["bogus", "id_token", ""])
def test_revoke_ignores_an_unknown_hint(anonymous, confidential, alice, hint):
    client, secret = confidential
    token = bearer_token(client, alice)

    response = token_request(anonymous, {"token": token, "token_type_hint": hint},
                             client_id=client.client_id, secret=secret, path="/oauth/revoke")

    assert response.status_code == 200, response.get_data(as_text=True)
    db.session.expire_all()
    assert find_access_token(token).access_token_revoked_at > 0


@pytest.mark.parametrize("hint", ["bogus", "id_token"])
def test_introspect_ignores_an_unknown_hint(anonymous, confidential, alice, hint):
    client, secret = confidential
    token = bearer_token(client, alice)

    response = token_request(anonymous, {"token": token, "token_type_hint": hint},
                             client_id=client.client_id, secret=secret, path="/oauth/introspect")

    assert response.status_code == 200
    assert response.get_json()["active"] is True and response.get_json()["username"] == "alice"


def test_a_revoke_without_a_token_is_still_an_invalid_request(anonymous, confidential):
    client, secret = confidential
    response = token_request(anonymous, {}, client_id=client.client_id, secret=secret,
                             path="/oauth/revoke")
    assert response.status_code == 400 and response.get_json()["error"] == "invalid_request"
