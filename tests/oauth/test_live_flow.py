"""The whole authorization-code flow against a real gunicorn process, with authlib's own
client on one side and a browser session (the real login and consent forms) on the other."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urljoin

import pytest
import requests
from authlib.common.security import generate_token
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.factories import PASSWORD, add_member, make_client, make_platform, make_user
from tests.oauth.helpers import REDIRECT_URI, csrf_token, query_of
from webapp.extensions import db
from webapp.oauth.tokens import find_access_token, find_refresh_token

SCOPE = "metadata.read metadata.write"


def peek(read):
    """Read the database, then let go of it: on SQLite this session's open transaction
    would hold the write lock the server process is waiting for."""
    try:
        return read()
    finally:
        db.session.rollback()


def owner_of(access_token: str) -> tuple:
    token = find_access_token(access_token)
    return token.user_id, token.client_id, token.scope


def browse_to_consent_and_allow(base_url: str, authorization_url: str, username: str) -> str:
    """Be the user's browser: get sent to sign in, sign in, consent; return the callback URL."""
    browser = requests.Session()
    response = browser.get(authorization_url, allow_redirects=False)
    assert response.status_code == 302
    login_url = urljoin(base_url, response.headers["Location"])
    assert login_url.startswith(f"{base_url}/login?next=")

    page = browser.get(login_url)
    signed_in = browser.post(login_url, allow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    assert signed_in.status_code == 302, signed_in.text
    consent_url = urljoin(base_url, signed_in.headers["Location"])
    assert consent_url == authorization_url

    consent = browser.get(consent_url)
    assert consent.status_code == 200 and "Live App" in consent.text
    decided = browser.post(consent_url, allow_redirects=False, data={
        "csrf_token": csrf_token(consent.text), "decision": "allow"})
    assert decided.status_code == 302, decided.text
    callback = decided.headers["Location"]
    assert callback.startswith(REDIRECT_URI + "?")
    return callback


@pytest.fixture
def live_client(app, live_server, request):
    """(client_id, secret, user_id), committed so the gunicorn process sees them."""
    platform = make_platform("live", "Live Platform")
    user = make_user("liveuser")
    add_member(platform, user)  # only members use a platform's clients (CONTRACT §5)
    client, secret = make_client(platform, name="Live App", public=request.param == "public")
    ids = (client.client_id, secret, user.id)
    db.session.rollback()
    return ids


@pytest.mark.parametrize("live_client", ["confidential"], indirect=True)
def test_code_flow_with_pkce_refresh_introspect_revoke(live_server, live_client):
    client_id, secret, user_id = live_client
    session = OAuth2Session(client_id, secret, scope=SCOPE, redirect_uri=REDIRECT_URI,
                            code_challenge_method="S256")
    verifier = generate_token(48)
    authorization_url, state = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier)
    assert "code_challenge=" in authorization_url

    callback = browse_to_consent_and_allow(live_server, authorization_url, "liveuser")
    assert query_of(callback)["state"] == state

    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=callback,
                                code_verifier=verifier, state=state)
    assert token["expires_in"] == 3600 and token["scope"] == SCOPE
    assert peek(lambda: find_access_token(token["access_token"]).user_id) == user_id

    # The code is spent: the same callback fails, and revokes what the code issued.
    replay = OAuth2Session(client_id, secret, redirect_uri=REDIRECT_URI)
    with pytest.raises(OAuthError) as failure:
        replay.fetch_token(f"{live_server}/oauth/token", authorization_response=callback,
                           code_verifier=verifier, state=state)
    assert failure.value.error == "invalid_grant"
    inactive = session.introspect_token(f"{live_server}/oauth/introspect",
                                        token=token["access_token"])
    assert inactive.json() == {"active": False}

    # A fresh authorization, refreshed with rotation.
    verifier = generate_token(48)
    authorization_url, state = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier)
    callback = browse_to_consent_and_allow(live_server, authorization_url, "liveuser")
    first = session.fetch_token(f"{live_server}/oauth/token", authorization_response=callback,
                                code_verifier=verifier, state=state)
    second = session.refresh_token(f"{live_server}/oauth/token")
    assert second["refresh_token"] != first["refresh_token"]
    assert second["access_token"] != first["access_token"]

    # The refreshed token works on the per-client API (OAuth2Session sends it as Bearer)...
    put = session.put(f"{live_server}/api/v2/metadata/theme", json={"value": "dark"})
    assert put.status_code == 201, put.text
    listed = session.get(f"{live_server}/api/v2/metadata")
    assert listed.status_code == 200
    assert listed.json() == {"data": [{"key": "theme", "value": "dark", "expires_at": None}]}
    # ...and the access token it replaced does not.
    stale = requests.get(f"{live_server}/api/v2/metadata",
                         headers={"Authorization": f"Bearer {first['access_token']}"})
    assert stale.status_code == 401

    introspection = session.introspect_token(f"{live_server}/oauth/introspect",
                                             token=second["access_token"])
    assert introspection.status_code == 200
    body = introspection.json()
    assert body["active"] is True and body["username"] == "liveuser"
    assert body["client_id"] == client_id and body["scope"] == SCOPE
    old = session.introspect_token(f"{live_server}/oauth/introspect",
                                   token=first["access_token"])
    assert old.json() == {"active": False}

    revoked = session.revoke_token(f"{live_server}/oauth/revoke",
                                   token=second["refresh_token"], token_type_hint="refresh_token")
    assert revoked.status_code == 200
    after = session.introspect_token(f"{live_server}/oauth/introspect",
                                     token=second["access_token"])
    assert after.json() == {"active": False}
    assert session.get(f"{live_server}/api/v2/metadata").status_code == 401
    assert peek(lambda: find_refresh_token(second["refresh_token"]).refresh_token_revoked_at)


@pytest.mark.parametrize("live_client", ["public"], indirect=True)
def test_public_client_flow_refresh_reuse_and_revoke(live_server, live_client):
    client_id, _, user_id = live_client
    session = OAuth2Session(client_id, scope="metadata.read", redirect_uri=REDIRECT_URI,
                            code_challenge_method="S256")
    assert session.token_endpoint_auth_method == "none"
    verifier = generate_token(48)
    authorization_url, state = session.create_authorization_url(
        f"{live_server}/oauth/authorize", code_verifier=verifier)
    callback = browse_to_consent_and_allow(live_server, authorization_url, "liveuser")

    first = session.fetch_token(f"{live_server}/oauth/token", authorization_response=callback,
                                code_verifier=verifier, state=state)
    assert first["scope"] == "metadata.read"
    second = session.refresh_token(f"{live_server}/oauth/token")
    assert second["refresh_token"] != first["refresh_token"]
    assert peek(lambda: owner_of(second["access_token"])) == (
        user_id, client_id, "metadata.read")

    # Someone replays the first, already rotated refresh token: the whole family dies.
    thief = OAuth2Session(client_id, scope="metadata.read")
    with pytest.raises(OAuthError) as failure:
        thief.refresh_token(f"{live_server}/oauth/token", refresh_token=first["refresh_token"])
    assert failure.value.error == "invalid_grant"
    assert peek(lambda: find_access_token(second["access_token"]).is_revoked())
    with pytest.raises(OAuthError):
        session.refresh_token(f"{live_server}/oauth/token")

    # Without a code_challenge the server refuses before showing the consent page.
    bare_url, _ = session.create_authorization_url(f"{live_server}/oauth/authorize")
    browser = requests.Session()
    page = browser.get(f"{live_server}/login")
    browser.post(f"{live_server}/login", data={
        "username": "liveuser", "password": PASSWORD, "csrf_token": csrf_token(page.text)})
    refused = browser.get(bare_url, allow_redirects=False)
    assert refused.status_code == 302
    assert query_of(refused.headers["Location"])["error"] == "invalid_request"


def _race(calls) -> list:
    """Run the calls at the same moment, each on its own connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.mark.parametrize("live_client", ["confidential"], indirect=True)
def test_racing_uses_of_one_code_and_one_refresh_token(live_server, live_client):
    """Single use holds under concurrency: one winner, and the losers' replay revokes it."""
    client_id, secret, _ = live_client
    session = OAuth2Session(client_id, secret, scope=SCOPE, redirect_uri=REDIRECT_URI)
    authorization_url, state = session.create_authorization_url(f"{live_server}/oauth/authorize")
    code = query_of(browse_to_consent_and_allow(live_server, authorization_url, "liveuser"))["code"]

    def exchange_code():
        return requests.post(f"{live_server}/oauth/token", auth=(client_id, secret), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI})

    responses = _race([exchange_code] * 6)

    winners = [r.json() for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert all(r.json()["error"] == "invalid_grant" for r in responses if r.status_code != 200)
    assert peek(lambda: bool(find_access_token(winners[0]["access_token"]).is_revoked()))

    # The same for a refresh token of a fresh authorization.
    authorization_url, state = session.create_authorization_url(f"{live_server}/oauth/authorize")
    callback = browse_to_consent_and_allow(live_server, authorization_url, "liveuser")
    token = session.fetch_token(f"{live_server}/oauth/token", authorization_response=callback,
                                state=state)

    def refresh_once():
        return requests.post(f"{live_server}/oauth/token", auth=(client_id, secret), data={
            "grant_type": "refresh_token", "refresh_token": token["refresh_token"]})

    responses = _race([refresh_once] * 6)

    winners = [r.json() for r in responses if r.status_code == 200]
    assert len(winners) == 1, [r.text for r in responses]
    assert peek(lambda: bool(find_access_token(winners[0]["access_token"]).is_revoked()))
    assert peek(lambda: bool(find_refresh_token(winners[0]["refresh_token"])
                             .refresh_token_revoked_at))
