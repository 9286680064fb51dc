"""Registering OAuth clients and rotating their secrets. Secrets are stored hashed."""
from __future__ import annotations

import time
from dataclasses import dataclass

from webapp.extensions import db
from webapp.hashing import hash_token, new_token
from webapp.metadata import audit
from webapp.metadata.errors import ValidationError
from webapp.models import OAuth2Client, Platform

SUPPORTED_SCOPES = ("metadata.read", "metadata.write")
# What the consent page tells the user each scope lets the application do.
SCOPE_DESCRIPTIONS = {
    "metadata.read": "Read the key/value entries this application keeps for you.",
    "metadata.write": "Create, change and delete the key/value entries this application keeps for you.",
}
GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
DEFAULT_GRANT_TYPES = ("authorization_code", "refresh_token")


@dataclass(frozen=True)
class RegisteredClient:
    client: OAuth2Client
    secret: str | None  # shown once; None for public clients


def _check_settings(name: str, redirect_uris: list[str], scope: str, grant_types: list[str],
                    public: bool) -> None:
    errors: dict[str, list[str]] = {}
    if not (name or "").strip():
        errors["name"] = ["A client needs a name."]
    uris = [uri for uri in redirect_uris if uri]
    if not uris and "authorization_code" in grant_types:
        errors["redirect_uri"] = ["At least one redirect URI is required."]
    for uri in uris:
        if not uri.startswith(("https://", "http://")) or "#" in uri:
            errors.setdefault("redirect_uri", []).append(
                f"{uri!r} is not an absolute http(s) URI without a fragment."
            )
    unknown = [s for s in scope.split() if s not in SUPPORTED_SCOPES]
    if unknown or not scope.split():
        errors["scope"] = [f"Scopes must be among: {' '.join(SUPPORTED_SCOPES)}."]
    bad_grants = [g for g in grant_types if g not in GRANT_TYPES]
    if bad_grants or not grant_types:
        errors["grant_type"] = [f"Grant types must be among: {', '.join(GRANT_TYPES)}."]
    if public and "client_credentials" in grant_types:
        errors["grant_type"] = ["A public client cannot use the client_credentials grant."]
    if errors:
        raise ValidationError(errors)


def _new_client_id() -> str:
    """A random id that never starts with "-", which a command line would take for an option
    (`flask clients issue-token -G...` fails)."""
    while True:
        client_id = new_token(18)
        if not client_id.startswith("-"):
            return client_id


def register_client(
    actor: audit.Actor,
    platform: Platform,
    name: str,
    redirect_uris: list[str],
    *,
    scope: str = "metadata.read metadata.write",
    public: bool = False,
    grant_types: list[str] | None = None,
) -> RegisteredClient:
    grant_types = list(grant_types or DEFAULT_GRANT_TYPES)
    _check_settings(name, redirect_uris, scope, grant_types, public)
    secret = None if public else new_token(32)
    client = OAuth2Client(
        client_id=_new_client_id(),
        client_secret=hash_token(secret) if secret else None,
        client_id_issued_at=int(time.time()),
        platform_id=platform.id,
    )
    client.set_client_metadata(
        {
            "client_name": name.strip(),
            "redirect_uris": [uri for uri in redirect_uris if uri],
            "scope": " ".join(scope.split()),
            "grant_types": grant_types,
            "response_types": ["code"],
            "token_endpoint_auth_method": "none" if public else "client_secret_basic",
        }
    )
    db.session.add(client)
    db.session.flush()
    audit.record(actor, "oauth_client.create", platform_id=platform.id,
                 oauth_client_id=client.id,
                 changes={"client_name": {"new": name.strip()}, "scope": {"new": scope}})
    return RegisteredClient(client=client, secret=secret)


def update_client(actor: audit.Actor, client: OAuth2Client, *, name: str,
                  redirect_uris: list[str], scope: str) -> None:
    metadata = dict(client.client_metadata)
    _check_settings(name, redirect_uris, scope, metadata.get("grant_types", []), client.is_public)
    new_metadata = dict(metadata, client_name=name.strip(),
                        redirect_uris=[u for u in redirect_uris if u], scope=" ".join(scope.split()))
    changes = audit.diff(
        {k: metadata.get(k) for k in ("client_name", "redirect_uris", "scope")},
        {k: new_metadata.get(k) for k in ("client_name", "redirect_uris", "scope")},
    )
    client.set_client_metadata(new_metadata)
    if changes:
        audit.record(actor, "oauth_client.update", platform_id=client.platform_id,
                     oauth_client_id=client.id, changes=changes)


def rotate_secret(actor: audit.Actor, client: OAuth2Client) -> str:
    if client.is_public:
        raise ValidationError.single("client_secret", "Public clients have no secret.")
    secret = new_token(32)
    client.client_secret = hash_token(secret)
    audit.record(actor, "oauth_client.rotate_secret", platform_id=client.platform_id,
                 oauth_client_id=client.id)
    return secret


def resolve_scope(client: OAuth2Client, requested: str | None) -> str | None:
    """The scope a client gets for a request, or None when it asked for one it may not have.

    authlib would silently drop scopes a client is not allowed; we refuse instead, so a
    client never believes it holds a scope it does not. Asking for nothing means asking
    for everything the client is allowed (RFC 6749 section 3.3's "pre-defined default").
    """
    allowed = client.scope.split()
    wanted = (requested or "").split()
    if not wanted:
        return " ".join(allowed)
    if any(scope not in allowed for scope in wanted):
        return None
    return " ".join(dict.fromkeys(wanted))
