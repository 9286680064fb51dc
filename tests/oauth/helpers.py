"""Steps of the OAuth flows, so each test reads as the rule it checks."""
from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.factories import PASSWORD

REDIRECT_URI = "https://app.example.test/callback"
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def csrf_token(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match, "no csrf_token input in the page"
    return match.group(1) or match.group(2)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def login(browser, username: str, password: str = PASSWORD) -> None:
    page = browser.get("/login")
    response = browser.post("/login", data={"username": username, "password": password,
                                            "csrf_token": csrf_token(page.get_data(as_text=True))})
    assert response.status_code == 302, response.get_data(as_text=True)


def authorize_path(client_id: str, **params) -> str:
    query = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT_URI,
             "state": "st4te", **params}
    return "/oauth/authorize?" + urlencode({k: v for k, v in query.items() if v is not None})


def query_of(location: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(location).query).items()}


def decide(browser, path: str, decision: str = "allow"):
    """Open the consent page at `path` and press one of its buttons."""
    page = browser.get(path)
    assert page.status_code == 200, page.get_data(as_text=True)
    return browser.post(path, data={"csrf_token": csrf_token(page.get_data(as_text=True)),
                                    "decision": decision})


def obtain_code(browser, client_id: str, **params) -> str:
    response = decide(browser, authorize_path(client_id, **params))
    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.location.startswith(REDIRECT_URI + "?")
    query = query_of(response.location)
    assert query.get("state") == params.get("state", "st4te")
    return query["code"]


def exchange(http, code: str, *, client_id: str, secret: str | None = None,
             verifier: str | None = None, redirect_uri: str | None = REDIRECT_URI):
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": verifier}
    return token_request(http, data, client_id=client_id, secret=secret)


def refresh(http, refresh_token: str, *, client_id: str, secret: str | None = None, **extra):
    data = {"grant_type": "refresh_token", "refresh_token": refresh_token, **extra}
    return token_request(http, data, client_id=client_id, secret=secret)


def token_request(http, data: dict, *, client_id: str, secret: str | None = None,
                  path: str = "/oauth/token"):
    """Confidential clients authenticate with HTTP Basic; public ones name themselves."""
    data = {k: v for k, v in data.items() if v is not None}
    if secret is None:
        return http.post(path, data={**data, "client_id": client_id})
    return http.post(path, data=data, auth=(client_id, secret))
