"""`flask clients create` and `flask clients issue-token` (CONTRACT section 7)."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from tests.factories import make_client, make_user
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import AuditEvent, OAuth2Client, OAuth2Token
from webapp.oauth.tokens import client_by_client_id, find_access_token


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def run(runner, *args):
    return runner.invoke(args=list(args))


def client_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OAuth2Client))


def token_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OAuth2Token))


def test_create_confidential_client_prints_one_json_object(runner, platform):
    result = run(runner, "clients", "create", "Acme Web", "--platform", "acme",
                 "--redirect-uri", "https://a.example/cb", "--redirect-uri", "https://b.example/cb",
                 "--scope", "metadata.read", "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"client_id", "client_secret"}
    client = client_by_client_id(payload["client_id"])
    assert client.client_secret == hash_token(payload["client_secret"])
    assert client.redirect_uris == ["https://a.example/cb", "https://b.example/cb"]
    assert (client.client_name, client.scope, client.platform.platform_key) == (
        "Acme Web", "metadata.read", "acme")
    assert client.grant_types == ["authorization_code", "refresh_token"]
    assert client.token_endpoint_auth_method == "client_secret_basic"
    assert db.session.scalar(select(AuditEvent.action).where(
        AuditEvent.oauth_client_id == client.id)) == "oauth_client.create"


def test_create_public_client_has_null_secret(runner, platform):
    result = run(runner, "clients", "create", "Mobile", "--platform", "acme", "--public",
                 "--redirect-uri", "http://127.0.0.1:8765/cb", "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["client_secret"] is None
    client = client_by_client_id(payload["client_id"])
    assert client.client_secret is None and client.is_public
    assert client.token_endpoint_auth_method == "none"


def test_create_with_grant_types(runner, platform):
    result = run(runner, "clients", "create", "Service", "--platform", "acme",
                 "--grant-type", "client_credentials", "--json")

    assert result.exit_code == 0, result.output
    client = client_by_client_id(json.loads(result.output)["client_id"])
    assert client.grant_types == ["client_credentials"] and client.redirect_uris == []


def test_create_without_json_shows_the_secret_once_in_text(runner, platform):
    result = run(runner, "clients", "create", "Web", "--platform", "acme",
                 "--redirect-uri", "https://a.example/cb")

    assert result.exit_code == 0
    client = db.session.scalar(select(OAuth2Client))
    assert client.client_id in result.output
    secret = result.output.split("client_secret (shown once): ")[1].strip()
    assert client.check_client_secret(secret)


@pytest.mark.parametrize("args, message", [
    (["--platform", "nope", "--redirect-uri", "https://a.example/cb"], "No platform 'nope'"),
    (["--platform", "acme"], "redirect URI"),
    (["--platform", "acme", "--redirect-uri", "ftp://a.example/cb"], "not an absolute http(s) URI"),
    (["--platform", "acme", "--redirect-uri", "https://a.example/cb", "--scope", "admin"],
     "Scopes must be among"),
    (["--platform", "acme", "--public", "--grant-type", "client_credentials"],
     "public client cannot"),
])
def test_create_refusals_are_one_line_and_change_nothing(runner, platform, args, message):
    result = run(runner, "clients", "create", "X", *args, "--json")

    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output
    assert client_count() == 0


def test_create_refuses_unknown_grant_type(runner, platform):
    result = run(runner, "clients", "create", "X", "--platform", "acme",
                 "--redirect-uri", "https://a.example/cb", "--grant-type", "password")

    assert result.exit_code != 0 and "password" in result.output
    assert client_count() == 0


def test_issue_token_prints_a_working_user_token(runner, platform, alice):
    client, _ = make_client(platform)

    result = run(runner, "clients", "issue-token", client.client_id, "ALICE",
                 "--scope", "metadata.read", "--json")

    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"access_token", "expires_in", "scope"}
    assert payload["expires_in"] == 3600 and payload["scope"] == "metadata.read"
    stored = find_access_token(payload["access_token"])
    assert (stored.user_id, stored.client_id, stored.scope) == (
        alice.id, client.client_id, "metadata.read")
    assert stored.access_token == hash_token(payload["access_token"])
    assert stored.refresh_token is None and not stored.is_revoked()


def test_issue_token_defaults_to_every_scope_of_the_client(runner, platform, alice):
    client, _ = make_client(platform, scope="metadata.write metadata.read")

    payload = json.loads(run(runner, "clients", "issue-token", client.client_id, "alice",
                             "--json").output)

    assert payload["scope"] == "metadata.write metadata.read"


@pytest.mark.parametrize("case, message", [
    ("unknown client", "No client 'nope'"),
    ("unknown user", "No user 'nobody'"),
    ("inactive user", "inactive"),
    ("scope not allowed", "not within the client's scopes"),
    ("unknown scope", "not within the client's scopes"),
])
def test_issue_token_refusals_are_one_line_and_mint_nothing(runner, platform, alice, case,
                                                            message):
    client, _ = make_client(platform, scope="metadata.read")
    make_user("sleepy", active=False)
    args = {
        "unknown client": ["nope", "alice"],
        "unknown user": [client.client_id, "nobody"],
        "inactive user": [client.client_id, "sleepy"],
        "scope not allowed": [client.client_id, "alice", "--scope", "metadata.write"],
        "unknown scope": [client.client_id, "alice", "--scope", "metadata.read admin"],
    }[case]

    result = run(runner, "clients", "issue-token", *args, "--json")

    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1, result.output
    assert message in result.output
    assert token_count() == 0


def test_client_ids_never_look_like_options(monkeypatch):
    """A client id starting with "-" could not be passed to `clients issue-token`."""
    from webapp.oauth import clients as oauth_clients

    minted = iter(["-Gdash", "-another", "plainId"])
    monkeypatch.setattr(oauth_clients, "new_token", lambda nbytes=32: next(minted))

    client = oauth_clients._new_client_id()

    assert client == "plainId"
