"""What every response shares (webapp.http), settings read from the environment, and
hardening that cuts across parts: framing and caching of pages, ids in URLs, NUL input,
the login's timing for users without a password.
"""
from __future__ import annotations

import gc
import os
import re
import stat
import weakref

import pytest
from flask import Blueprint, Flask, request
from werkzeug.datastructures import Headers

from tests.dashboard.conftest import login
from tests.dashboard.world import World
from tests.factories import make_user
from webapp import config as config_module
from webapp import create_app
from webapp.api import PREFIXES, TOKEN_APIS
from webapp.dashboard import auth
from webapp.http import ID_MAX, add_missing, digits_up_to, header_value, run_beside

PAGES = ("/login", "/admin/", "/admin/users", "/admin/platforms/acme", "/admin/audit",
         "/admin/users/{alice}")


@pytest.fixture
def world(app):
    return World()


@pytest.fixture
def signed_in(web, world):
    login(web, world.acme_admin)
    return web


def test_pages_are_never_framed_cached_or_sniffed(signed_in, world):
    for path in PAGES:
        response = signed_in.get(path.format(alice=world.alice.id))
        assert response.status_code == 200, path
        assert response.headers["X-Frame-Options"] == "DENY"
        policy = response.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy
        assert response.headers["Cache-Control"] == "no-store"
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_api_answers_carry_the_headers_that_apply_to_json(client):
    response = client.get("/api/v2/metadata")
    assert response.status_code == 401
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in response.headers


def test_the_shared_headers_never_replace_one_a_view_set_whatever_its_case():
    headers = Headers([("cache-control", "private"), ("X-FRAME-OPTIONS", "SAMEORIGIN")])
    add_missing(headers, (("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"),
                          ("Referrer-Policy", "same-origin")))
    assert headers.to_wsgi_list() == [("cache-control", "private"),
                                      ("X-FRAME-OPTIONS", "SAMEORIGIN"),
                                      ("Referrer-Policy", "same-origin")]
    assert header_value(headers, "Cache-Control") == "private"
    assert header_value(headers, "RateLimit-Reset") is None


def test_hooks_run_beside_some_blueprints_run_for_every_other_blueprint_only():
    app = Flask(__name__)
    ran: list[str] = []

    def before():
        ran.append("before " + request.path)

    def after(response):
        ran.append("after " + request.path)
        return response

    def teardown(error):
        ran.append("teardown " + request.path)

    def kept():
        ran.append("kept " + request.path)

    for name in ("api", "pages"):
        blueprint = Blueprint(name, __name__)
        blueprint.add_url_rule(f"/{name}", name, lambda: "ok")
        app.register_blueprint(blueprint)
    app.add_url_rule("/health", "health", lambda: "ok")
    app.before_request(before)
    app.before_request(kept)
    app.after_request(after)
    app.teardown_request(teardown)

    run_beside(app, ["api"], lambda hook: hook in (before, after, teardown))

    http = app.test_client()
    for path in ("/api", "/pages", "/health"):
        assert http.get(path).status_code == 200
    assert ran == ["kept /api", "kept /pages", "before /pages", "after /pages",
                   "teardown /pages", "kept /health"]


def test_the_token_apis_are_the_blueprints_answering_under_their_prefixes(app):
    serving = {rule.endpoint.rpartition(".")[0] for rule in app.url_map.iter_rules()
               if rule.rule.startswith(PREFIXES)}
    assert serving == set(TOKEN_APIS)


def test_every_answer_carries_a_request_id_the_callers_if_sane(client):
    made = client.get("/api/v2/metadata").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert client.get("/api/v2/metadata").headers["X-Request-ID"] != made
    assert client.get("/api/v2/metadata", headers={"X-Request-ID": "abc-123"}
                      ).headers["X-Request-ID"] == "abc-123"
    for insane in ("a" * 65, "a b", "<script>", "caf\u00e9"):
        echoed = client.get("/api/v2/metadata", headers={"X-Request-ID": insane})
        assert re.fullmatch(r"[0-9a-f]{32}", echoed.headers["X-Request-ID"]), insane


def test_async_functions_are_still_handed_to_flask_each_time(app):
    """The app remembers which functions are plain (webapp.http.App); a coroutine function
    is still Flask's to run, which it refuses without its `async` extra."""

    def plain():
        return "plain"

    async def coroutine():
        return "coroutine"

    assert app.ensure_sync(plain) is plain and app.ensure_sync(plain) is plain
    for _ in range(2):
        with pytest.raises(RuntimeError, match="async"):
            app.ensure_sync(coroutine)


def test_a_function_handed_over_once_is_not_kept_alive_by_being_remembered(app):
    def for_one_request():
        def after(response):
            return response
        return after

    once = for_one_request()
    assert app.ensure_sync(once) is once
    gone = weakref.ref(once)
    del once
    gc.collect()
    assert gone() is None


def test_https_requests_are_told_to_stay_on_https(client):
    response = client.get("/login", base_url="https://metadata.example")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in client.get("/login").headers


@pytest.mark.parametrize("path", [
    "/admin/users/{big}", "/admin/platforms/acme/clients/{big}",
    "/admin/platforms/acme/members/{big}/remove", "/admin/platforms/acme/tokens/{big}/revoke",
])
def test_ids_past_the_largest_id_are_not_found_not_a_server_error(signed_in, path):
    """Whatever the method: a route of the same path that takes other methods (a client's
    page is GET, its form POST) must not turn the answer into a 405."""
    for big in (2**31, 2**63, 10**30, 10**300):
        url = path.format(big=big)
        assert signed_in.post(url).status_code == 404, url
        assert signed_in.get(url).status_code == 404, url


@pytest.mark.parametrize("limit", [5, 10, 100, 101, 1000, 12345])
def test_the_id_pattern_matches_exactly_the_numbers_up_to_its_limit(limit):
    pattern = re.compile(digits_up_to(limit) + r"\Z")
    assert [n for n in range(limit * 3 + 20) if pattern.match(str(n))] == list(range(limit + 1))


def test_the_id_pattern_ends_at_the_largest_id():
    pattern = re.compile(digits_up_to(ID_MAX) + r"\Z")
    near = [ID_MAX - 10**k for k in range(10)] + [ID_MAX, ID_MAX + 1, ID_MAX + 10, 2 * ID_MAX,
                                                   10**10 - 1, 10**10, 2**63]
    assert [n for n in near if pattern.match(str(n))] == [n for n in near if n <= ID_MAX]


def test_the_largest_id_is_just_not_found(signed_in):
    assert signed_in.get(f"/admin/users/{2**31 - 1}").status_code == 404


@pytest.mark.parametrize("path", ["/admin/users?q=a%00b", "/admin/audit?user=a%00b",
                                  "/admin/users?q=a&q=b%00c",
                                  "/admin/users?platform=ac%00me"])
def test_a_nul_character_in_page_input_is_a_bad_request(signed_in, path):
    assert signed_in.get(path).status_code == 400


def test_a_nul_character_in_a_login_form_is_a_bad_request(web):
    response = web.post("/login", data={"username": "a\x00b", "password": "x"})
    assert response.status_code == 400


def test_nul_characters_in_api_names_find_nothing(client, world):
    from tests.factories import make_api_token

    key = make_api_token(world.acme_admin)
    headers = {"Authorization": f"Token {key}"}
    response = client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": "ac\x00me"}, headers=headers)
    assert (response.status_code, response.json) == (404, {"error": "Platform not found"})
    response = client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": "acme", "username": "ali\x00ce"},
                          headers=headers)
    assert (response.status_code, response.json) == (404, {"error": "User not found"})
    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=("cli\x00ent", "secret"))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


def test_a_user_without_a_password_costs_a_password_check_like_anyone(app, monkeypatch):
    """Else a fast "no" would tell which usernames exist (and have no password)."""
    make_user("nopass", password="")
    make_user("haspass", password="s3cret s3cret")
    checks = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password",
                        lambda stored, password: checks.append(stored) or real(stored, password))
    monkeypatch.setattr("webapp.models.identity.verify_password",
                        lambda stored, password: checks.append(stored) or real(stored, password))
    for username in ("nopass", "nobody", "haspass"):
        checks.clear()
        assert auth.authenticate(username, "guess") is None
        assert len(checks) == 1 and checks[0], username  # one real argon2 check each


# --- settings ------------------------------------------------------------------------------

def test_settings_are_read_from_the_environment(monkeypatch, test_config):
    for name, value in (("METADATA_MAX_KEYS", "7"), ("PLATFORM_METADATA_MAX_BYTES", "1000"),
                        ("OAUTH2_ACCESS_TOKEN_EXPIRES_IN", "60"), ("PURGE_INTERVAL", "5"),
                        ("OAUTH2_ISSUER", "https://metadata.example")):
        monkeypatch.setenv(name, value)
    overrides = {k: v for k, v in test_config.items()
                 if k not in ("METADATA_MAX_KEYS", "PLATFORM_METADATA_MAX_BYTES")}
    app = create_app(overrides)
    assert app.config["METADATA_MAX_KEYS"] == 7
    assert app.config["PLATFORM_METADATA_MAX_BYTES"] == 1000
    assert app.config["OAUTH2_ACCESS_TOKEN_EXPIRES_IN"] == 60
    assert app.config["PURGE_INTERVAL"] == 5
    response = app.test_client().get("/.well-known/oauth-authorization-server",
                                     headers={"Host": "evil.example"})
    assert response.json["issuer"] == "https://metadata.example"


@pytest.mark.parametrize("name, value, message", [
    ("OAUTH2_ACCESS_TOKEN_EXPIRES_IN", "0",
     "OAUTH2_ACCESS_TOKEN_EXPIRES_IN must be a whole number of at least 1, not 0."),
    ("METADATA_MAX_KEYS", "many", "METADATA_MAX_KEYS must be a whole number, not 'many'."),
    ("PURGE_BATCH_SIZE", "-5", "PURGE_BATCH_SIZE must be a whole number of at least 1, not -5."),
])
def test_a_setting_that_cannot_work_is_refused_by_name(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValueError) as refused:
        create_app({"TESTING": True})
    assert str(refused.value) == message


def test_the_generated_secret_key_is_readable_by_its_owner_only(tmp_path, monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setattr(config_module, "INSTANCE_DIR", tmp_path)
    first = config_module._secret_key()
    assert len(first) > 40
    assert stat.S_IMODE(os.stat(tmp_path / "secret_key").st_mode) == 0o600
    assert config_module._secret_key() == first  # kept, not made again


def test_processes_starting_together_agree_on_one_secret_key(tmp_path):
    """gunicorn's workers start at once on a fresh instance: all must get the same, whole key."""
    import subprocess
    import sys

    from tests.conftest import ROOT, patient

    # The config module alone, loaded from its file: importing the whole app in twelve
    # processes at once takes minutes on a busy two-core machine, and proves nothing more.
    script = ("import importlib.util, sys; from pathlib import Path; "
              "spec = importlib.util.spec_from_file_location('config', sys.argv[2]); "
              "c = importlib.util.module_from_spec(spec); spec.loader.exec_module(c); "
              "c.INSTANCE_DIR = Path(sys.argv[1]); print(c._secret_key())")
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    config_file = str(ROOT / "webapp" / "config.py")
    processes = [subprocess.Popen([sys.executable, "-c", script, str(tmp_path), config_file],
                                  cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(12)]
    keys = {process.communicate(timeout=patient(60))[0].strip() for process in processes}
    assert len(keys) == 1 and len(keys.pop()) > 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret_key"]  # no drafts left
