"""RFC 8414 metadata, and the rule that no secret of the OAuth server is stored in clear."""
from __future__ import annotations

from authlib.oauth2.rfc8414 import AuthorizationServerMetadata
from sqlalchemy import text

from tests.factories import make_client
from tests.oauth.helpers import exchange, obtain_code, refresh, token_request
from webapp.extensions import db
from webapp.hashing import hash_token


def test_well_known_metadata_describes_this_server(anonymous):
    response = anonymous.get("/.well-known/oauth-authorization-server")

    assert response.status_code == 200
    body = response.get_json()
    assert body == {
        "issuer": "http://localhost",
        "authorization_endpoint": "http://localhost/oauth/authorize",
        "token_endpoint": "http://localhost/oauth/token",
        "revocation_endpoint": "http://localhost/oauth/revoke",
        "introspection_endpoint": "http://localhost/oauth/introspect",
        "scopes_supported": ["metadata.read", "metadata.write"],
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic"],
        "code_challenge_methods_supported": ["S256"],
    }
    AuthorizationServerMetadata(body).validate()  # raises on anything RFC 8414 forbids


def test_every_advertised_endpoint_exists(anonymous):
    body = anonymous.get("/.well-known/oauth-authorization-server").get_json()

    for key in ("token_endpoint", "revocation_endpoint", "introspection_endpoint"):
        path = body[key].removeprefix("http://localhost")
        # Unauthenticated POSTs are refused by the endpoint itself, not a 404 or a CSRF 400.
        assert anonymous.post(path).status_code in (400, 401), key
    assert anonymous.get(body["authorization_endpoint"].removeprefix("http://localhost")
                         ).status_code == 302


def test_issuer_can_be_pinned_by_setting(make_app):
    pinned = make_app(OAUTH2_ISSUER="https://id.example.com")

    body = pinned.test_client().get("/.well-known/oauth-authorization-server").get_json()

    assert body["issuer"] == "https://id.example.com"


def _all_oauth_rows() -> str:
    dump = []
    for table in ("oauth_clients", "oauth_authorization_codes", "oauth_tokens", "audit_events"):
        dump.extend(repr(tuple(row)) for row in db.session.execute(text(f"select * from {table}")))
    return "\n".join(dump)


def test_secrets_codes_and_tokens_are_stored_only_as_hashes(browser, confidential, platform):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    pending = obtain_code(browser, client.client_id)  # stays in the table
    first = exchange(browser, code, client_id=client.client_id, secret=secret).get_json()
    second = refresh(browser, first["refresh_token"], client_id=client.client_id,
                     secret=secret).get_json()
    cc_client, cc_secret = make_client(platform, grant_types=("client_credentials",))
    cc_token = token_request(browser, {"grant_type": "client_credentials"},
                             client_id=cc_client.client_id, secret=cc_secret).get_json()

    dump = _all_oauth_rows()

    clear = [secret, cc_secret, code, pending, first["access_token"], first["refresh_token"],
             second["access_token"], second["refresh_token"], cc_token["access_token"]]
    for value in clear:
        assert value not in dump
    for value in [secret, cc_secret, pending, second["access_token"], second["refresh_token"],
                  cc_token["access_token"]]:
        assert hash_token(value) in dump
