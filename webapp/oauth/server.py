"""The authorization server: which grants and endpoints exist, how clients are found and
how issued tokens are kept.

One module-level server, as in authlib's examples; it holds no per-app state (token
lifetimes are read from the current app's config when a token is minted), so several
apps (tests build many) can share it.
"""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749.errors import (
    InvalidClientError,
    InvalidScopeError,
    UnsupportedResponseTypeError,
)
from flask import Flask, current_app, request, url_for

from webapp.models import OAuth2Client, User
from webapp.oauth.clients import GRANT_TYPES, SUPPORTED_SCOPES, resolve_scope
from webapp.oauth.endpoints import IntrospectionEndpoint, RevocationEndpoint
from webapp.oauth.grants import (
    AuthorizationCodeGrant,
    ClientCredentialsGrant,
    RefreshTokenGrant,
    S256CodeChallenge,
)
from webapp.oauth.tokens import client_by_client_id, new_token_response, store_token


def query_client(client_id: str) -> OAuth2Client | None:
    return client_by_client_id(client_id) if client_id else None


def save_token(token: dict, oauth_request) -> None:
    """Store a minted token, in the family of the grant it came from.

    A refreshed token joins its predecessor's family; a token from a code starts the
    family named by the code's hash, so a replayed code can find what it issued.
    """
    if oauth_request.refresh_token is not None:
        family_id = oauth_request.refresh_token.family_id
    elif oauth_request.authorization_code is not None:
        family_id = oauth_request.authorization_code.code
    else:
        family_id = None
    store_token(oauth_request.client, oauth_request.user, token, family_id=family_id)


def generate_token(grant_type: str, client: OAuth2Client, user: User | None = None,
                   scope: str | None = None, expires_in: int | None = None,
                   include_refresh_token: bool = True) -> dict:
    """Replaces authlib's BearerTokenGenerator, whose lifetime for codes is ten days.

    The client's allowed scopes are checked again here because they may have shrunk
    since a refresh token was issued.
    """
    resolved = resolve_scope(client, scope)
    if resolved is None:
        raise InvalidScopeError("The client may no longer use this scope.")
    return new_token_response(resolved,
                              with_refresh_token=include_refresh_token and user is not None)


class Server(AuthorizationServer):
    def load_config(self, config) -> None:
        self.register_token_generator("default", generate_token)
        self.scopes_supported = list(SUPPORTED_SCOPES)

    def authenticate_client(self, request, methods, endpoint="token"):
        """authlib decodes Basic credentials as UTF-8 and lets the UnicodeDecodeError out
        (a 500): credentials that cannot be decoded are credentials that do not match."""
        try:
            return super().authenticate_client(request, methods, endpoint)
        except UnicodeError:
            raise InvalidClientError(status_code=401) from None

    def get_authorization_grant(self, request):
        """authlib quotes an unknown response_type into its error description, and a
        double quote there makes its error constructor raise ValueError (a 500)."""
        try:
            return super().get_authorization_grant(request)
        except ValueError:
            raise UnsupportedResponseTypeError(
                None, description="The response type is not supported.") from None


authorization = Server(query_client=query_client, save_token=save_token)
authorization.register_grant(AuthorizationCodeGrant, [S256CodeChallenge(required=True)])
authorization.register_grant(RefreshTokenGrant)
authorization.register_grant(ClientCredentialsGrant)
authorization.register_endpoint(RevocationEndpoint)
authorization.register_endpoint(IntrospectionEndpoint)


def init_server(app: Flask) -> None:
    authorization.init_app(app)


def server_metadata() -> dict:
    """RFC 8414 metadata; the issuer is OAUTH2_ISSUER if set, else this request's origin."""
    issuer = current_app.config.get("OAUTH2_ISSUER") or request.host_url.rstrip("/")
    return {
        "issuer": issuer,
        "authorization_endpoint": url_for("oauth.authorize", _external=True),
        "token_endpoint": url_for("oauth.token", _external=True),
        "revocation_endpoint": url_for("oauth.revoke", _external=True),
        "introspection_endpoint": url_for("oauth.introspect", _external=True),
        "scopes_supported": list(SUPPORTED_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "token_endpoint_auth_methods_supported": list(
            dict.fromkeys(AuthorizationCodeGrant.TOKEN_ENDPOINT_AUTH_METHODS
                          + RefreshTokenGrant.TOKEN_ENDPOINT_AUTH_METHODS
                          + ClientCredentialsGrant.TOKEN_ENDPOINT_AUTH_METHODS)
        ),
        "revocation_endpoint_auth_methods_supported": list(RevocationEndpoint.CLIENT_AUTH_METHODS),
        "introspection_endpoint_auth_methods_supported": list(
            IntrospectionEndpoint.CLIENT_AUTH_METHODS
        ),
        "code_challenge_methods_supported": list(S256CodeChallenge.SUPPORTED_CODE_CHALLENGE_METHOD),
    }
