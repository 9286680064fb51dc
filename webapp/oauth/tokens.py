"""Minting and finding OAuth tokens. Only SHA-256 hashes of tokens are stored."""
from __future__ import annotations

import time
import uuid

from flask import current_app
from sqlalchemy import select

from webapp.extensions import db
from webapp.hashing import hash_token, new_token
from webapp.models import OAuth2Client, OAuth2Token, User


def issue_access_token(
    client: OAuth2Client,
    user: User | None,
    scope: str,
    *,
    with_refresh_token: bool = False,
    family_id: str | None = None,
) -> dict:
    """Store a new token for the client (and user) and return it in token-response form."""
    expires_in = current_app.config["OAUTH2_ACCESS_TOKEN_EXPIRES_IN"]
    access_token = new_token(32)
    refresh_token = new_token(32) if with_refresh_token else None
    db.session.add(
        OAuth2Token(
            client_id=client.client_id,
            user_id=user.id if user is not None else None,
            token_type="Bearer",
            access_token=hash_token(access_token),
            refresh_token=hash_token(refresh_token) if refresh_token else None,
            scope=scope,
            issued_at=int(time.time()),
            expires_in=expires_in,
            family_id=family_id or uuid.uuid4().hex,
        )
    )
    db.session.flush()
    response = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": expires_in,
        "scope": scope,
    }
    if refresh_token:
        response["refresh_token"] = refresh_token
    return response


def find_access_token(token_string: str) -> OAuth2Token | None:
    """The token with this access-token string, whatever its state (callers check it)."""
    if not token_string:
        return None
    return db.session.scalar(
        select(OAuth2Token).where(OAuth2Token.access_token == hash_token(token_string))
    )


def find_refresh_token(token_string: str) -> OAuth2Token | None:
    if not token_string:
        return None
    return db.session.scalar(
        select(OAuth2Token).where(OAuth2Token.refresh_token == hash_token(token_string))
    )


def client_by_client_id(client_id: str) -> OAuth2Client | None:
    return db.session.scalar(select(OAuth2Client).where(OAuth2Client.client_id == client_id))
