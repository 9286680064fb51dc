"""/oauth/authorize: sign-in first, then a consent page; every refusal happens before consent."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select

from tests.factories import make_client, make_user
from tests.oauth.helpers import (
    REDIRECT_URI,
    authorize_path,
    csrf_token,
    decide,
    pkce_pair,
    query_of,
)
from webapp.extensions import db
from webapp.hashing import hash_token
from webapp.models import OAuth2AuthorizationCode


def code_count() -> int:
    return db.session.scalar(select(func.count()).select_from(OAuth2AuthorizationCode))


def test_signed_out_user_is_sent_to_login_and_back(anonymous, alice, confidential):
    client, _ = confidential
    browser = anonymous
    path = authorize_path(client.client_id, scope="metadata.read")

    response = browser.get(path)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.path == "/login"
    assert parse_qs(location.query)["next"] == [path]
    # The login page names the application asking, as the consent page does.
    page = browser.get(response.location)
    login_html = page.get_data(as_text=True)
    assert '<strong class="client-name">Acme Web</strong>' in login_html
    assert '<strong class="platform-name">Acme Inc</strong>' in login_html
    # Signing in on that page leads back to the very same authorization request.
    signed_in = browser.post(response.location, data={
        "username": "alice", "password": "correct horse battery staple",
        "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert signed_in.status_code == 302 and signed_in.location == path
    assert browser.get(path).status_code == 200


def test_the_login_page_names_no_application_it_cannot_vouch_for(anonymous, confidential):
    client, _ = confidential
    for path in (authorize_path("no-such-client", scope="metadata.read"),
                 authorize_path(client.client_id, redirect_uri="https://evil.test/"),
                 "/admin/?client_id=" + client.client_id):
        response = anonymous.get("/login", query_string={"next": path})
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert "client-name" not in html and "Acme Web" not in html, path


def test_consent_page_names_client_platform_and_scopes(browser, confidential):
    client, _ = confidential

    response = browser.get(authorize_path(client.client_id, scope="metadata.read"))

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Acme Web" in html and "Acme Inc" in html and ">acme<" in html
    assert ">metadata.read<" in html and ">metadata.write<" not in html
    assert 'name="decision" value="allow"' in html and 'name="decision" value="deny"' in html
    assert 'name="csrf_token"' in html
    assert response.headers["X-Frame-Options"] == "DENY"
    assert code_count() == 0


def test_allow_redirects_with_a_code_stored_only_as_its_hash(browser, confidential, alice):
    client, _ = confidential

    response = decide(browser, authorize_path(client.client_id, scope="metadata.read"))

    assert response.status_code == 302
    assert response.location.startswith(REDIRECT_URI + "?")
    query = query_of(response.location)
    assert query["state"] == "st4te"
    stored = db.session.scalar(select(OAuth2AuthorizationCode))
    assert stored.code == hash_token(query["code"]) and stored.code != query["code"]
    assert (stored.client_id, stored.user_id, stored.scope) == (
        client.client_id, alice.id, "metadata.read")


def test_deny_redirects_with_access_denied_and_issues_no_code(browser, confidential):
    client, _ = confidential

    response = decide(browser, authorize_path(client.client_id), decision="deny")

    assert response.status_code == 302
    query = query_of(response.location)
    assert response.location.startswith(REDIRECT_URI + "?")
    assert query["error"] == "access_denied" and query["state"] == "st4te"
    assert "code" not in query
    assert code_count() == 0


def test_anything_but_allow_is_a_denial(browser, confidential):
    """Only the allow button grants: a missing, misspelt or differently cased decision denies."""
    client, _ = confidential
    for decision in ("", "ALLOW", "yes", "allow "):
        response = decide(browser, authorize_path(client.client_id), decision=decision)
        assert response.status_code == 302
        assert query_of(response.location)["error"] == "access_denied", decision
    path = authorize_path(client.client_id)
    page = browser.get(path)
    response = browser.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True))})
    assert query_of(response.location)["error"] == "access_denied"
    assert code_count() == 0


def test_consent_without_csrf_token_is_refused(browser, confidential):
    client, _ = confidential
    path = authorize_path(client.client_id)
    browser.get(path)

    response = browser.post(path, data={"decision": "allow"})

    assert response.status_code == 400
    assert response.location is None
    assert code_count() == 0


def test_omitted_scope_means_every_scope_the_client_may_use(browser, platform):
    client, _ = make_client(platform, scope="metadata.read")

    response = decide(browser, authorize_path(client.client_id))

    assert response.status_code == 302
    assert db.session.scalar(select(OAuth2AuthorizationCode.scope)) == "metadata.read"


def test_scope_outside_the_clients_scopes_is_refused(browser, platform):
    client, _ = make_client(platform, scope="metadata.read")

    for scope in ("metadata.read metadata.write", "metadata.admin", "openid"):
        response = browser.get(authorize_path(client.client_id, scope=scope))

        assert response.status_code == 302, scope
        assert response.location.startswith(REDIRECT_URI + "?")
        assert query_of(response.location)["error"] == "invalid_scope"
    assert code_count() == 0


def test_redirect_uri_must_match_exactly_and_others_get_nothing(browser, confidential):
    client, _ = confidential
    for other in (REDIRECT_URI + "/", REDIRECT_URI + "?x=1", "https://evil.example/callback",
                  REDIRECT_URI.upper(), 'https://evil.example/"quoted"'):
        response = browser.get(authorize_path(client.client_id, redirect_uri=other))

        assert response.status_code == 400, other
        assert response.location is None
        assert "invalid_request" in response.get_data(as_text=True)
    assert code_count() == 0


def test_redirect_uri_may_be_omitted_only_when_one_is_registered(browser, platform):
    single, _ = make_client(platform)
    several, _ = make_client(platform, redirect_uris=(REDIRECT_URI, "https://b.example/cb"))

    assert decide(browser, authorize_path(single.client_id, redirect_uri=None)).location \
        .startswith(REDIRECT_URI + "?code=")
    response = browser.get(authorize_path(several.client_id, redirect_uri=None))
    assert response.status_code == 400 and response.location is None


def test_unknown_client_gets_an_error_page_not_a_redirect(browser):
    response = browser.get(authorize_path("no-such-client"))

    assert response.status_code == 400
    assert response.location is None
    assert "invalid_client" in response.get_data(as_text=True)


def test_unsupported_response_type_is_refused(browser, confidential):
    client, _ = confidential

    response = browser.get(authorize_path(client.client_id, response_type="token"))

    assert response.status_code == 302
    assert query_of(response.location)["error"] == "unsupported_response_type"


def test_malformed_parameters_get_an_answer_not_a_server_error(browser, confidential):
    client, _ = confidential

    odd_type = browser.get(authorize_path(client.client_id, response_type='co"de'))
    odd_client = browser.get(authorize_path('no"such\\client'))
    odd_state = browser.get(authorize_path(client.client_id, state='a"b\\c'))

    assert odd_type.status_code == 400 and "unsupported_response_type" in odd_type.get_data(
        as_text=True)
    assert odd_client.status_code == 400 and odd_client.location is None
    assert odd_state.status_code == 200
    assert code_count() == 0


def test_client_without_the_code_grant_cannot_start_it(browser, platform):
    client, _ = make_client(platform, grant_types=("client_credentials",))

    response = browser.get(authorize_path(client.client_id))

    assert response.status_code == 302
    assert query_of(response.location)["error"] == "unauthorized_client"
    assert code_count() == 0


def test_public_client_without_code_challenge_is_refused_before_consent(browser, public):
    response = browser.get(authorize_path(public.client_id))

    assert response.status_code == 302
    query = query_of(response.location)
    assert query["error"] == "invalid_request" and "code_challenge" in query["error_description"]
    assert query["state"] == "st4te"
    # Pressing "allow" anyway (a forged POST with a valid CSRF token) issues nothing either.
    page = browser.get(authorize_path(public.client_id, code_challenge=pkce_pair()[1],
                                      code_challenge_method="S256"))
    forced = browser.post(authorize_path(public.client_id), data={
        "csrf_token": csrf_token(page.get_data(as_text=True)), "decision": "allow"})
    assert query_of(forced.location)["error"] == "invalid_request"
    assert code_count() == 0


def test_plain_and_implicit_plain_challenges_are_refused(browser, public, confidential):
    _, challenge = pkce_pair()
    for client_id in (public.client_id, confidential[0].client_id):
        for method in ("plain", None, "S512"):
            response = browser.get(authorize_path(client_id, code_challenge=challenge,
                                                  code_challenge_method=method))
            assert response.status_code == 302
            query = query_of(response.location)
            assert query["error"] == "invalid_request", (client_id, method)
            assert "S256" in query["error_description"]
    assert code_count() == 0


def test_public_client_with_s256_challenge_gets_a_code(browser, public):
    _, challenge = pkce_pair()

    response = decide(browser, authorize_path(public.client_id, code_challenge=challenge,
                                              code_challenge_method="S256"))

    assert response.status_code == 302
    assert "code" in query_of(response.location)
    stored = db.session.scalar(select(OAuth2AuthorizationCode))
    assert (stored.code_challenge, stored.code_challenge_method) == (challenge, "S256")


def test_deactivated_user_cannot_authorize(browser, alice, confidential):
    client, _ = confidential
    alice.is_active = False
    db.session.commit()

    response = browser.get(authorize_path(client.client_id))

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert code_count() == 0


def test_inactive_user_cannot_sign_in_to_authorize(anonymous, platform, confidential):
    make_user("bob", active=False)
    browser = anonymous
    page = browser.get("/login")
    response = browser.post("/login", data={"username": "bob", "password": "correct horse battery staple",
                                            "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 400
    assert browser.get(authorize_path(confidential[0].client_id)).status_code == 302
    assert code_count() == 0
