"""Revocation (RFC 7009) and introspection (RFC 7662) over hashed tokens.

A token row holds an access token and maybe a refresh token with different lifetimes, so
both endpoints remember which of the two strings was presented (tokens.FoundToken).
"""
from __future__ import annotations

from authlib.oauth2.rfc6749.errors import InvalidGrantError, InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _RevocationEndpoint
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _IntrospectionEndpoint
from flask import current_app

from webapp.models import OAuth2Client
from webapp.oauth.tokens import (
    ACCESS_TOKEN,
    REFRESH_TOKEN,
    FoundToken,
    find_token,
    revoke_access_token,
    revoke_family,
)


def known_hint(request) -> str | None:
    """The token_type_hint if it names a kind of token we issue; an unknown hint is ignored
    (RFC 7009 section 2.1, RFC 7662 section 2.1), not an error as authlib makes it."""
    hint = request.form.get("token_type_hint")
    return hint if hint in (ACCESS_TOKEN, REFRESH_TOKEN) else None


def check_params(request) -> None:
    if "token" not in request.form:
        raise InvalidRequestError()


class RevocationEndpoint(_RevocationEndpoint):
    # Public clients may revoke their own tokens, identified by client_id alone (RFC 7009
    # section 5); authlib refuses `none` for clients that have a secret.
    CLIENT_AUTH_METHODS = ["client_secret_basic", "none"]

    def authenticate_token(self, request, client: OAuth2Client) -> FoundToken | None:
        check_params(request)
        found = find_token(request.form["token"], known_hint(request))
        if found is not None and found.token.client_id != client.client_id:
            raise InvalidGrantError("The token was not issued to this client.")
        return found

    def revoke_token(self, found: FoundToken, request) -> None:
        """A refresh token takes every token of its authorization with it (RFC 7009 section
        2.1); an access token goes alone, so the client can still refresh."""
        if found.kind == REFRESH_TOKEN:
            revoke_family(found.token.family_id)
        else:
            revoke_access_token(found.token)


class IntrospectionEndpoint(_IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = ["client_secret_basic"]

    def authenticate_token(self, request, client: OAuth2Client) -> FoundToken | None:
        """Another client's token reads as inactive: a client learns nothing about tokens
        it was not issued."""
        check_params(request)
        found = find_token(request.form["token"], known_hint(request))
        if found is None or found.token.client_id != client.client_id:
            return None
        return found

    def create_introspection_payload(self, found: FoundToken | None) -> dict:
        if found is None or not found.is_active():
            return {"active": False}
        return self.introspect_token(found)

    def introspect_token(self, found: FoundToken) -> dict:
        token = found.token
        if found.kind == REFRESH_TOKEN:
            expires_at = token.issued_at + current_app.config["OAUTH2_REFRESH_TOKEN_EXPIRES_IN"]
        else:
            expires_at = token.issued_at + token.expires_in
        payload = {
            "active": True,
            "client_id": token.client_id,
            "scope": token.scope,
            "iat": token.issued_at,
            "exp": expires_at,
        }
        if found.kind != REFRESH_TOKEN:
            payload["token_type"] = token.token_type
        if token.user is not None:
            payload["username"] = token.user.username
            payload["sub"] = str(token.user.id)
        return payload
