"""The three grants this server allows, each hardened where authlib's defaults are lax.

authlib, left alone, lets a public client start the code flow without PKCE, accepts the
`plain` challenge method, silently narrows a scope a client may not have instead of
refusing it, never rotates refresh tokens and keeps codes and tokens in the clear. The
subclasses here close each of those; every rule is tested in tests/oauth/.
"""
from __future__ import annotations

import time

from authlib.oauth2.rfc6749 import grants
from authlib.oauth2.rfc6749.errors import (
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    UnauthorizedClientError,
)
from authlib.oauth2.rfc7636 import CodeChallenge
from flask import current_app
from sqlalchemy import delete, select

from webapp import access
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import OAuth2AuthorizationCode, OAuth2Client, OAuth2Token, User
from webapp.oauth.clients import resolve_scope
from webapp.oauth.tokens import (
    claim_refresh_token,
    find_refresh_token,
    refresh_token_expired,
    revoke_family,
)


def check_requested_scope(grant: grants.BaseGrant) -> str:
    """Refuse (rather than narrow) a scope the server does not know or the client may not use."""
    grant.server.validate_requested_scope(grant.request.payload.scope)
    scope = resolve_scope(grant.request.client, grant.request.payload.scope)
    if scope is None:
        raise InvalidScopeError("The client may not ask for this scope.")
    return scope


def _active_user(user: User | None) -> User:
    if user is None or not user.is_active:
        raise InvalidGrantError("The user who granted access is no longer active.")
    return user


def _member_user(user: User | None, client: OAuth2Client) -> User:
    """An active member of the client's platform: a client belongs to its platform, and a
    membership that has ended since the consent (or the last refresh) ends the grant."""
    user = _active_user(user)
    if not access.is_member(user, client.platform):
        raise InvalidGrantError("The user is not a member of the client's platform.")
    return user


class S256CodeChallenge(CodeChallenge):
    """PKCE with S256 only, and mandatory for public clients before they reach consent.

    authlib's CodeChallenge(required=True) only notices a missing challenge at the token
    endpoint, after the user has consented and a code exists; we refuse at /authorize.
    A challenge without a method is refused too: RFC 7636 reads that as `plain`.
    """

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge = data.get("code_challenge")
        method = data.get("code_challenge_method")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("Public clients must use PKCE: 'code_challenge' is required.")
        if (challenge or method) and method != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        super().validate_code_challenge(grant, redirect_uri)


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]

    @staticmethod
    def validate_authorization_redirect_uri(request, client: OAuth2Client) -> str:
        """Exact match only, and no guessing between several registered URIs.

        authlib's own message quotes the offered URI, and a URI holding a double quote
        would then crash its error constructor, so the messages here are fixed.
        """
        requested = request.payload.redirect_uri
        if requested:
            if not client.check_redirect_uri(requested):
                raise InvalidRequestError("The redirect_uri is not registered for this client.")
            return requested
        if len(client.redirect_uris) != 1:
            raise InvalidRequestError("Missing 'redirect_uri' in request.")
        return client.redirect_uris[0]

    def validate_requested_scope(self):
        check_requested_scope(self)

    def validate_authorization_request(self):
        redirect_uri = super().validate_authorization_request()
        if not self.request.client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError(
                "The client may not use the authorization code grant.", redirect_uri=redirect_uri
            )
        # authlib leaves an omitted scope empty; we grant the client's default instead.
        self.request.scope = resolve_scope(self.request.client, self.request.payload.scope)
        return redirect_uri

    def save_authorization_code(self, code: str, request) -> None:
        # Codes nobody exchanged would otherwise stay forever; there are few, so sweep here.
        lifetime = current_app.config["OAUTH2_AUTH_CODE_EXPIRES_IN"]
        db.session.execute(
            delete(OAuth2AuthorizationCode)
            .where(OAuth2AuthorizationCode.auth_time < int(time.time()) - lifetime)
            .execution_options(synchronize_session=False)
        )
        data = request.payload.data
        db.session.add(
            OAuth2AuthorizationCode(
                code=hash_token(code),
                client_id=request.client.client_id,
                redirect_uri=request.payload.redirect_uri or "",
                response_type=request.payload.response_type,
                scope=request.scope,
                user_id=request.user.id,
                code_challenge=data.get("code_challenge"),
                code_challenge_method=data.get("code_challenge_method"),
                auth_time=int(time.time()),
            )
        )

    def query_authorization_code(self, code: str, client: OAuth2Client):
        """The live code, by hash. An unknown code may be a used one: RFC 6749 section 4.1.2
        asks us to revoke what it issued, which we do (tokens from a code share a family
        named by the code's hash) and commit at once, since the error response rolls back."""
        code_hash = hash_token(code)
        item = db.session.scalar(
            select(OAuth2AuthorizationCode).where(
                OAuth2AuthorizationCode.code == code_hash,
                OAuth2AuthorizationCode.client_id == client.client_id,
            )
        )
        if item is None:
            if revoke_family(code_hash):
                db.session.commit()
            return None
        if item.auth_time + current_app.config["OAUTH2_AUTH_CODE_EXPIRES_IN"] < time.time():
            return None
        return item

    def create_token_response(self):
        """Consume the code before minting: of two racing uses exactly one deletes the row;
        the other revokes whatever the winner got, as for any reuse."""
        code = self.request.authorization_code
        code_hash = code.code
        deleted = db.session.execute(
            delete(OAuth2AuthorizationCode).where(OAuth2AuthorizationCode.id == code.id)
            .execution_options(synchronize_session=False)
        ).rowcount
        if deleted != 1:
            if revoke_family(code_hash):
                db.session.commit()
            raise InvalidGrantError("Invalid 'code' in request.")
        return super().create_token_response()

    def delete_authorization_code(self, authorization_code) -> None:
        """Already deleted in create_token_response, before any token existed."""

    def authenticate_user(self, authorization_code) -> User:
        return _member_user(db.session.get(User, authorization_code.user_id), self.request.client)


class RefreshTokenGrant(grants.RefreshTokenGrant):
    """Refresh with rotation: each refresh token works once; a second use is theft."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "none"]
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str) -> OAuth2Token | None:
        token = find_refresh_token(refresh_token)
        if token is None:
            return None
        if token.refresh_token_revoked_at:
            # Someone holds a refresh token that was already rotated or revoked: either the
            # client or an attacker has a stale copy, and we cannot tell which. Revoke the
            # whole family now (committed: the error response rolls the request back).
            if revoke_family(token.family_id):
                db.session.commit()
            return None
        if refresh_token_expired(token):
            return None
        return token

    def authenticate_user(self, refresh_token: OAuth2Token) -> User:
        return _member_user(refresh_token.user, self.request.client)

    def create_token_response(self):
        old = self.request.refresh_token
        family_id = old.family_id
        if not claim_refresh_token(old):
            if revoke_family(family_id):
                db.session.commit()
            raise InvalidGrantError()
        return super().create_token_response()

    def revoke_old_credential(self, refresh_token: OAuth2Token) -> None:
        """Already retired by claim_refresh_token, before the new token was minted."""


class ClientCredentialsGrant(grants.ClientCredentialsGrant):
    """Tokens for the client itself: no user, no refresh token."""

    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic"]

    def validate_requested_scope(self):
        check_requested_scope(self)
