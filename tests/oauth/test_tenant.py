"""A client belongs to its platform (CONTRACT section 5): only members authorize it, the CLI
mints tokens for members only, and ending a membership ends that user's tokens for the
platform's clients, on the very next request."""
from __future__ import annotations

import pytest
from sqlalchemy import delete, func, select

from tests.factories import FACTORY, add_member, bearer_token, make_client, make_platform, make_user
from tests.oauth.helpers import (
    REDIRECT_URI,
    authorize_path,
    csrf_token,
    exchange,
    obtain_code,
    query_of,
    refresh,
    token_request,
)
from webapp import accounts
from webapp.extensions import db
from webapp.models import Membership, OAuth2AuthorizationCode, OAuth2Token


def count(model) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model))


@pytest.fixture
def outsider(app):
    """A member of another platform only: signs in fine, belongs to nothing of acme's."""
    user = make_user("olga")
    add_member(make_platform("globex", "Globex"), user, "admin")
    return user


@pytest.fixture
def outsider_browser(anonymous, outsider):
    from tests.oauth.helpers import login

    login(anonymous, "olga")
    return anonymous


def test_an_outsider_sees_a_page_without_consent_and_the_way_back_denies(outsider_browser,
                                                                       confidential):
    client, _ = confidential

    response = outsider_browser.get(authorize_path(client.client_id, scope="metadata.read"))

    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert "Your account cannot use this application" in html
    assert "Acme Web" in html and "Acme Inc" in html
    assert 'name="decision"' not in html
    back = html.split('class="button" href="')[1].split('"')[0].replace("&amp;", "&")
    assert back.startswith(REDIRECT_URI + "?")
    assert query_of(back) == {"error": "access_denied", "state": "st4te"} | {
        k: v for k, v in query_of(back).items() if k == "error_description"}
    assert count(OAuth2AuthorizationCode) == 0


def test_an_outsider_pressing_allow_anyway_gets_access_denied_and_no_code(outsider_browser,
                                                                          confidential, alice):
    client, _ = confidential
    path = authorize_path(client.client_id, scope="metadata.read")
    # A consent form of a page the outsider may not see: the CSRF token is the session's.
    token = csrf_token(outsider_browser.get("/login").get_data(as_text=True))

    response = outsider_browser.post(path, data={"csrf_token": token, "decision": "allow"})

    assert response.status_code == 302
    assert response.location.startswith(REDIRECT_URI + "?")
    query = query_of(response.location)
    assert query["error"] == "access_denied" and "code" not in query
    assert count(OAuth2AuthorizationCode) == 0 and count(OAuth2Token) == 0


def test_a_superadmin_who_is_no_member_is_an_outsider_too(anonymous, confidential):
    from tests.oauth.helpers import login

    make_user("root", superadmin=True)
    login(anonymous, "root")
    client, _ = confidential

    response = anonymous.get(authorize_path(client.client_id))

    assert response.status_code == 403
    assert 'name="decision"' not in response.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "support", "admin"])
def test_members_of_any_role_may_authorize(anonymous, confidential, platform, role):
    from tests.oauth.helpers import login

    add_member(platform, make_user("mia"), role)
    login(anonymous, "mia")
    client, secret = confidential

    code = obtain_code(anonymous, client.client_id)

    assert exchange(anonymous, code, client_id=client.client_id, secret=secret).status_code == 200


def test_a_membership_ended_between_consent_and_exchange_gets_no_token(browser, confidential,
                                                                       alice):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    db.session.execute(delete(Membership).where(Membership.user_id == alice.id))
    db.session.commit()

    response = exchange(browser, code, client_id=client.client_id, secret=secret)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert count(OAuth2Token) == 0


def test_the_refresh_grant_refuses_a_user_who_is_no_longer_a_member(browser, confidential, alice):
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    tokens = exchange(browser, code, client_id=client.client_id, secret=secret).get_json()
    # The membership row alone goes (as a direct database change would): the grant itself
    # must notice, not only the revocation that removing a member also does.
    db.session.execute(delete(Membership).where(Membership.user_id == alice.id))
    db.session.commit()

    response = refresh(browser, tokens["refresh_token"], client_id=client.client_id, secret=secret)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid_grant"
    assert count(OAuth2Token) == 1


def test_issue_token_refuses_a_non_member_and_mints_nothing(app, confidential, outsider):
    client, _ = confidential

    result = app.test_cli_runner().invoke(args=["clients", "issue-token", client.client_id, "olga"])

    assert result.exit_code != 0
    assert "not a member of the client's platform 'acme'" in result.output
    assert count(OAuth2Token) == 0


def _tokens_of_everyone(browser, confidential, alice):
    """alice's code-flow tokens for acme's client, her token for globex's client, and a
    fellow member's token for acme's client."""
    client, secret = confidential
    code = obtain_code(browser, client.client_id)
    flow = exchange(browser, code, client_id=client.client_id, secret=secret).get_json()
    globex = make_platform("globex", "Globex")
    add_member(globex, alice)
    globex_client, _ = make_client(globex)
    fellow = make_user("fred")
    add_member(client.platform, fellow)
    return flow, bearer_token(globex_client, alice), bearer_token(client, fellow)


def _introspect(http, confidential, token: str) -> bool:
    client, secret = confidential
    response = token_request(http, {"token": token}, client_id=client.client_id, secret=secret,
                             path="/oauth/introspect")
    return response.get_json()["active"]


def _api_status(http, token: str) -> int:
    return http.get("/api/v2/metadata", headers={"Authorization": f"Bearer {token}"}).status_code


def test_removing_a_member_ends_their_tokens_for_that_platforms_clients(browser, confidential,
                                                                        alice, platform):
    flow, elsewhere, fellows = _tokens_of_everyone(browser, confidential, alice)
    assert _api_status(browser, flow["access_token"]) == 200

    accounts.remove_membership(FACTORY, platform, alice)
    db.session.commit()

    assert _api_status(browser, flow["access_token"]) == 401
    assert not _introspect(browser, confidential, flow["access_token"])
    assert not _introspect(browser, confidential, flow["refresh_token"])
    client, secret = confidential
    again = refresh(browser, flow["refresh_token"], client_id=client.client_id, secret=secret)
    assert again.status_code == 400 and again.get_json()["error"] == "invalid_grant"
    # Her token for another platform's client, and another member's, are untouched.
    assert _api_status(browser, elsewhere) == 200
    assert _api_status(browser, fellows) == 200
    # Taken in again, the old tokens stay dead.
    add_member(platform, alice)
    assert _api_status(browser, flow["access_token"]) == 401


def test_the_cli_remove_member_ends_the_tokens_too(app, browser, confidential, alice):
    flow, elsewhere, fellows = _tokens_of_everyone(browser, confidential, alice)

    result = app.test_cli_runner().invoke(args=["platforms", "remove-member", "acme", "alice"])

    assert result.exit_code == 0, result.output
    assert _api_status(browser, flow["access_token"]) == 401
    assert _api_status(browser, elsewhere) == 200 and _api_status(browser, fellows) == 200


def test_the_cli_remove_member_refuses_a_non_member(app, confidential, outsider):
    result = app.test_cli_runner().invoke(args=["platforms", "remove-member", "acme", "olga"])
    assert result.exit_code != 0 and "olga is not a member of acme" in result.output
