"""The OpenAPI document and the readable reference describe both APIs and every answer.

The core of this module is `check`: given the document and a real response, it says whether
the response is one the document promises (status, required headers, and a body equal to one
of the named examples). The two scenario tests fire a representative set of real requests
at an app with small limits, check every answer, and then require every example of the
document to have been answered at least once, so neither the API nor the document can
change without the other.
"""
from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from jsonschema import Draft202012Validator
from markupsafe import escape
from openapi_spec_validator import validate

from tests.api.conftest import METADATA_PATH, PLATFORM_PATH
from tests.api.openapi_search_scenario import search_scenario
from tests.factories import (
    FACTORY,
    add_member,
    bearer_token,
    make_api_token,
    make_client_entry,
    make_user,
)
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import per_client as per_client_service
from webapp.metadata import platform as platform_service
from webapp.metadata import schemas
from webapp.models import ApiToken
from webapp.timeutil import utcnow

HTTP_METHODS = ("get", "head", "put", "post", "delete", "options", "patch", "trace")
ISO_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# Headers whose presence in a response must be documented for that response.
MEANINGFUL_HEADERS = ("ETag", "Location", "WWW-Authenticate", "Allow")
# Small limits, so every limit can be reached by a real request; the document read from this
# app must state these numbers, not the defaults.
LIMITS = {"METADATA_MAX_KEYS": 3, "PLATFORM_METADATA_MAX_BYTES": 300,
          "PLATFORM_METADATA_MAX_DEPTH": 4, "MAX_CONTENT_LENGTH": 100_000}
TOO_LARGE = "x" * (LIMITS["MAX_CONTENT_LENGTH"] + 1)
LATER = "2099-12-31T23:59:59Z"


# --- checking one real response against the document -----------------------------------------

def operation_for(spec: dict, method: str, path: str) -> tuple[str | None, list[tuple[str, dict]]]:
    """The documented path template for a request path, and the operations that describe the
    answer: the method's own, or, for a method the path does not serve, every operation (each
    documents the 405 such a method gets)."""
    for template, item in spec["paths"].items():
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template.rstrip("/")))
        if template.endswith("/"):
            pattern += "/?"  # the trailing slash is optional (CONTRACT section 3)
        if re.fullmatch(pattern, path):
            ops = {m: op for m, op in item.items() if m in HTTP_METHODS}
            if method.lower() in ops:
                return template, [(method.lower(), ops[method.lower()])]
            return template, [(m, op) for m, op in ops.items() if m != "head"]
    return None, []


def normalized(body):
    """Creation and update times vary from run to run: any ISO time stands for any other;
    so do cursors (`next`) and the times inside a list of `results`."""
    if isinstance(body, dict):
        return {k: "<time>" if k in ("created_at", "updated_at") and isinstance(v, str)
                and ISO_Z.match(v) else "<cursor>" if k == "next" and isinstance(v, str)
                else [normalized(item) for item in v] if k == "results" and isinstance(v, list)
                else v for k, v in body.items()}
    return body


def same_json(a, b) -> bool:
    """Equal as JSON: `true` is not `1`, as Python's == would have it."""
    return json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)


def schema_errors(spec: dict, schema: dict, body) -> list[str]:
    validator = Draft202012Validator({**schema, "components": spec["components"]})
    return [error.message for error in validator.iter_errors(body)]


def check(spec: dict, method: str, path: str, response) -> tuple[list[str], set[tuple]]:
    """(problems, examples answered) for one real response; no problems means documented.

    An example is identified as (path template, method, status, example name).
    """
    template, operations = operation_for(spec, method, path)
    if template is None:
        return [f"{path} matches no documented path"], set()
    status, problems, hits = str(response.status_code), [], set()
    if len(operations) > 1 and status != "405":
        problems.append(f"{method} is not documented on {template}, yet answered {status}")
    for op_method, operation in operations:
        where = f"{op_method.upper()} {template} {status}"
        documented = operation["responses"].get(status)
        if documented is None:
            problems.append(f"{where}: status not documented "
                            f"(body {response.get_data(as_text=True)[:200]!r})")
            continue
        headers = documented.get("headers", {})
        for name, header in headers.items():
            if header.get("required") and name not in response.headers:
                problems.append(f"{where}: documented header {name} missing")
            const = header.get("schema", {}).get("const")
            if const is not None and response.headers.get(name) != const:
                problems.append(f"{where}: {name} is {response.headers.get(name)!r}, "
                                f"documented {const!r}")
        for name in MEANINGFUL_HEADERS:
            if name in response.headers and name not in headers:
                problems.append(f"{where}: header {name} sent but not documented")
        content = documented.get("content")
        if content is None:
            if response.data:
                problems.append(f"{where}: documented without a body, got {response.data[:200]!r}")
            continue
        if method.upper() == "HEAD":
            problems.append(f"{where}: HEAD documented with a body")
            continue
        media = content.get("application/json")
        if media is None or response.mimetype != "application/json":
            problems.append(f"{where}: body is {response.mimetype}, documented {list(content)}")
            continue
        body = response.get_json()
        problems += [f"{where}: schema: {error}"
                     for error in schema_errors(spec, media["schema"], body)]
        matched = {name for name, example in media.get("examples", {}).items()
                   if same_json(normalized(example["value"]), normalized(body))}
        if not matched:
            documented_bodies = [json.dumps(e["value"]) for e in media.get("examples", {}).values()]
            problems.append(f"{where}: body {json.dumps(body)[:300]} is none of the documented "
                            f"examples: {'; '.join(documented_bodies)[:1500]}")
        hits |= {(template, op_method, status, name) for name in matched}
    return problems, hits


def response_examples(spec: dict, prefix: str) -> set[tuple]:
    """Every named response example of the paths under `prefix`."""
    return {
        (template, method, status, name)
        for template, item in spec["paths"].items() if template.startswith(prefix)
        for method, operation in item.items() if method in HTTP_METHODS
        for status, response in operation["responses"].items()
        for name in response.get("content", {}).get("application/json", {}).get("examples", {})
    }


@dataclass
class Recorder:
    """Sends real requests and checks each answer against the document."""

    client: object
    spec: dict
    problems: list[str] = field(default_factory=list)
    hits: set[tuple] = field(default_factory=set)

    def __call__(self, method: str, path: str, *, expect: int, query: dict | None = None,
                 headers: dict | None = None, json=None, data=None):
        db.session.rollback()  # the app under test must never wait on this session's lock
        kwargs = {"json": json} if json is not None else {"data": data}
        response = self.client.open(path, method=method, query_string=query or {},
                                    headers=headers or {}, **kwargs)
        label = f"{method} {path} {query or ''} {headers or ''}"
        if response.status_code != expect:  # the scenario did not reach what it meant to
            self.problems.append(f"{label}: expected {expect}, got {response.status_code} "
                                 f"{response.get_data(as_text=True)[:200]!r}")
        problems, hits = check(self.spec, method, path, response)
        self.problems += [f"{label}: {problem}" for problem in problems]
        self.hits |= hits
        return response

    def assert_documented_and_covered(self, prefix: str) -> None:
        missing = response_examples(self.spec, prefix) - self.hits
        report = self.problems + [f"example never answered by a real request: {m}"
                                  for m in sorted(missing)]
        assert not report, "\n".join(report)


@pytest.fixture
def limited(make_app, app):
    """An app with small limits on the test database, and its own app context per request."""
    other = make_app(**LIMITS)
    yield other
    with other.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def recorder(limited):
    client = limited.test_client()
    spec = client.get("/api/openapi.json").get_json()
    return Recorder(client, spec)


# --- the document itself -----------------------------------------------------------------------

def test_openapi_document_is_valid_openapi_3_1(client):
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    spec = response.get_json()
    assert spec["openapi"] == "3.1.0"
    validate(spec)


def test_openapi_names_every_status_of_the_contract(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    def statuses(path, method):
        return set(paths[path][method]["responses"])

    entry = "/api/v2/metadata/{key}"
    everywhere = {"429", "503"}  # the opt-in rate limit; the database not answering
    assert statuses("/api/v2/metadata", "get") == {"200", "401", "403", "405", "413",
                                                   "500"} | everywhere
    assert statuses("/api/v2/metadata", "head") == statuses("/api/v2/metadata", "get")
    assert statuses(entry, "get") == {"200", "401", "403", "404", "405", "413", "500"} | everywhere
    assert statuses(entry, "head") == statuses(entry, "get")
    assert statuses(entry, "put") == {"200", "201", "400", "401", "403", "404", "405", "412",
                                      "413", "422", "500"} | everywhere
    assert statuses(entry, "delete") == {"204", "401", "403", "404", "405", "412", "413",
                                         "500"} | everywhere
    platform = "/api/core/users/platform-metadata/"
    common = {"400", "401", "403", "404", "405", "413", "500"} | everywhere
    assert statuses(platform, "get") == statuses(platform, "head") == {"200"} | common
    assert statuses(platform, "patch") == statuses(platform, "put") == {"200", "412"} | common
    assert statuses(platform, "delete") == {"204", "412"} | common


def test_openapi_documents_both_auth_schemes_and_scopes(client):
    spec = client.get("/api/openapi.json").get_json()
    schemes = spec["components"]["securitySchemes"]
    flow = schemes["bearer"]["flows"]["authorizationCode"]
    assert schemes["bearer"]["type"] == "oauth2"
    assert (flow["authorizationUrl"], flow["tokenUrl"]) == ("/oauth/authorize", "/oauth/token")
    assert set(flow["scopes"]) == {"metadata.read", "metadata.write"}
    assert schemes["token"] == {**schemes["token"], "type": "apiKey", "in": "header",
                                "name": "Authorization"}
    paths = spec["paths"]
    for path, method, scope in (("/api/v2/metadata", "get", "metadata.read"),
                                ("/api/v2/metadata", "head", "metadata.read"),
                                ("/api/v2/metadata/{key}", "get", "metadata.read"),
                                ("/api/v2/metadata/{key}", "put", "metadata.write"),
                                ("/api/v2/metadata/{key}", "delete", "metadata.write")):
        assert paths[path][method]["security"] == [{"bearer": [scope]}]
    for method in ("get", "head", "patch", "put", "delete"):
        assert paths["/api/core/users/platform-metadata/"][method]["security"] == [{"token": []}]


def test_parameters_and_headers_are_documented(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]

    def names(path, method):
        return {(p["name"], p["in"]) for p in paths[path].get("parameters", []) +
                paths[path][method].get("parameters", [])}

    entry, platform = "/api/v2/metadata/{key}", "/api/core/users/platform-metadata/"
    assert {("key", "path"), ("If-Match", "header"), ("If-None-Match", "header")} <= names(entry, "put")
    assert ("If-Match", "header") in names(entry, "delete")
    assert {("platform_key", "query"), ("username", "query")} <= names(platform, "get")
    assert {("If-Match", "header"), ("If-None-Match", "header")} <= names(platform, "put")
    assert ("If-Match", "header") in names(platform, "patch") & names(platform, "delete")
    put = paths[entry]["put"]["responses"]
    assert {"ETag", "Location"} <= set(put["201"]["headers"])
    assert "ETag" in put["200"]["headers"] and "Location" not in put["200"]["headers"]
    assert "ETag" in paths[platform]["get"]["responses"]["200"]["headers"]
    assert paths[entry]["get"]["responses"]["401"]["headers"]["WWW-Authenticate"]["schema"][
        "const"] == "Bearer"
    assert paths[platform]["patch"]["responses"]["401"]["headers"]["WWW-Authenticate"][
        "schema"]["const"] == "Token"
    assert "Allow" in paths[platform]["get"]["responses"]["405"]["headers"]


def test_every_example_fits_its_own_schema(client):
    spec = client.get("/api/openapi.json").get_json()
    problems = []
    for template, item in spec["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            contents = [("request", operation.get("requestBody", {}).get("content", {}))]
            contents += [(status, r.get("content", {})) for status, r in operation["responses"].items()]
            for where, content in contents:
                for media in content.values():
                    assert media.get("examples"), f"{method} {template} {where}: no examples"
                    for name, example in media["examples"].items():
                        problems += [f"{method} {template} {where} {name}: {error}" for error in
                                     schema_errors(spec, media["schema"], example["value"])]
    assert not problems, "\n".join(problems)


def test_limits_are_read_from_the_config_at_request_time(app, client, monkeypatch):
    text = client.get("/api/openapi.json").get_data(as_text=True)
    for fragment in ("Request body exceeds 1048576 bytes.", "Metadata exceeds 65536 bytes.",
                     "Metadata exceeds 32 levels of nesting.",
                     "The key field must not exceed 1000 keys per client."):
        assert fragment in text
    for name, value in (("MAX_CONTENT_LENGTH", 4321), ("PLATFORM_METADATA_MAX_BYTES", 777),
                        ("PLATFORM_METADATA_MAX_DEPTH", 9), ("METADATA_MAX_KEYS", 55)):
        monkeypatch.setitem(app.config, name, value)
    text = client.get("/api/openapi.json").get_data(as_text=True)
    for fragment in ("Request body exceeds 4321 bytes.", "Metadata exceeds 777 bytes.",
                     "Metadata exceeds 9 levels of nesting.",
                     "The key field must not exceed 55 keys per client."):
        assert fragment in text
    assert "1048576" not in text and "65536" not in text


# --- the document against real answers ----------------------------------------------------------

def with_limit_and_outage(recorder, make_app, tmp_path, headers, operations, first) -> None:
    """Every operation over API_RATE_LIMIT (429), then with a database that does not
    answer (503), through apps of their own."""
    from webapp.extensions import limiter

    own = recorder.client
    throttled = make_app(**LIMITS, RATELIMIT_ENABLED=True, API_RATE_LIMIT="1 per minute")
    limiter.reset()
    recorder.client = throttled.test_client()
    method, path, query, expect = first  # the one request allowed
    recorder(method, path, query=query, headers=headers, expect=expect)
    for method, path, query, body in operations:
        recorder(method, path, query=query, headers=headers, json=body, expect=429)
    limiter.reset()
    down = make_app(**LIMITS, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path}/none/here.db")
    recorder.client = down.test_client()
    for method, path, query, body in operations:
        recorder(method, path, query=query, headers=headers, json=body, expect=503)
    recorder.client = own


def test_every_per_client_answer_is_documented_and_every_example_is_real(
        recorder, caller, monkeypatch, make_app, tmp_path):
    call, root = recorder, METADATA_PATH
    entry = f"{root}/theme"
    full = {"Authorization": f"Bearer {caller.token}"}
    read_only = {"Authorization": f"Bearer {bearer_token(caller.client, caller.user, 'metadata.read')}"}
    write_only = {"Authorization": f"Bearer {bearer_token(caller.client, caller.user, 'metadata.write')}"}
    no_user = {"Authorization": f"Bearer {bearer_token(caller.client, None)}"}
    idle = make_user()
    add_member(caller.platform, idle)
    inactive = {"Authorization": f"Bearer {bearer_token(caller.client, idle)}"}
    idle.is_active = False
    db.session.commit()
    operations = (("GET", root, None), ("HEAD", root, None), ("GET", entry, None),
                  ("HEAD", entry, None), ("PUT", entry, {"value": "dark"}), ("DELETE", entry, None))

    # 401 and 403, for every operation
    for method, path, body in operations:
        for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Bearer nope"},
                        {"Authorization": "Basic dXNlcjpwdw=="}, no_user, inactive):
            call(method, path, headers=headers, json=body, expect=401)
        lacking = write_only if method in ("GET", "HEAD") else read_only
        call(method, path, headers=lacking, json=body, expect=403)

    # reads of nothing; a body too large is refused whatever the method
    call("GET", root, headers=full, expect=200)
    call("GET", root, headers=full, data=TOO_LARGE, expect=413)
    call("GET", entry, headers=full, data=TOO_LARGE, expect=413)
    call("HEAD", root, headers=full, expect=200)
    for method in ("GET", "HEAD", "DELETE"):
        call(method, entry, headers=full, expect=404)
        call(method, f"{root}/bad%20key", headers=full, expect=404)
    call("DELETE", entry, headers=full, data=TOO_LARGE, expect=413)

    # create (over an expired entry), replace, and read back
    make_client_entry(caller.user, caller.client, "theme", "old",
                      expires_at=utcnow() - timedelta(minutes=1))
    call("GET", entry, headers=full, expect=404)
    created = call("PUT", entry, headers=full, json={"value": "dark"}, expect=201)
    assert created.headers["Location"].endswith("/api/v2/metadata/theme")
    tag = call("PUT", entry, headers={**full, "If-Match": created.headers["ETag"]},
               json={"value": "dark"}, expect=200).headers["ETag"]
    call("PUT", f"{root}/banner", headers=full, json={"value": "dismissed", "expires_at": LATER},
         expect=201)
    call("PUT", f"{root}/banner", headers=full, expect=200,
         json={"value": "dismissed", "expires_at": "2100-01-01T01:59:59+02:00"})
    call("GET", root, headers=full, expect=200)
    call("GET", entry, headers=full, expect=200)
    call("GET", f"{root}/banner", headers=full, expect=200)
    call("HEAD", f"{root}/banner", headers=full, expect=200)

    # bad bodies
    for data in ("not json", "", "[1]", '"dark"', "null"):
        call("PUT", entry, headers=full, data=data, expect=400)
    for body in ({"expires_at": None}, {"value": ""}, {"value": None}, {"value": 5},
                 {"value": {"a": 1}}, {"value": "x" * 65536}, {"value": "a\u0000b"},
                 {"value": "dark", "expires_at": "tomorrow"},
                 {"value": "dark", "expires_at": "2000-01-01T00:00:00Z"}):
        call("PUT", entry, headers=full, json=body, expect=422)
    call("PUT", entry, headers=full, data='{"value": "\\ud800"}', expect=422)
    call("PUT", f"{root}/bad%20key", headers=full, json={"value": "dark"}, expect=422)
    call("PUT", f"{root}/{'k' * 256}", headers=full, json={"value": "dark"}, expect=422)
    call("PUT", f"{root}/bad%20key", headers=full, json={}, expect=422)
    call("PUT", entry, headers=full, data=TOO_LARGE, expect=413)

    # preconditions
    call("PUT", entry, headers={**full, "If-Match": '"stale"'}, json={"value": "x"}, expect=412)
    call("PUT", entry, headers={**full, "If-None-Match": "*"}, json={"value": "x"}, expect=412)
    call("DELETE", entry, headers={**full, "If-Match": '"stale"'}, expect=412)

    # the quota: a third live key written directly, then a fourth refused
    make_client_entry(caller.user, caller.client, "locale", "en")
    call("PUT", f"{root}/extra", headers=full, json={"value": "dark"}, expect=422)

    # methods the paths do not serve
    for method, path in (("POST", root), ("DELETE", root), ("PUT", root), ("PATCH", entry),
                         ("POST", entry)):
        call(method, path, headers=full, json={"value": "x"}, expect=405)

    call("DELETE", entry, headers={**full, "If-Match": tag}, expect=204)
    call("DELETE", f"{root}/banner", headers=full, expect=204)

    # unexpected errors, for every operation
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    # a key holding a slash names no entry: 404 for PUT too
    call("PUT", f"{root}/a%2Fb", headers=full, json={"value": "x"}, expect=404)

    for name in ("as_resource", "found_entry", "put_entry", "delete_entry"):
        monkeypatch.setattr(per_client_service, name, broken)
    for method, path, body in operations:
        response = call(method, path, headers=full, json=body, expect=500)
        assert b"secret" not in response.data
    monkeypatch.undo()

    with_limit_and_outage(recorder, make_app, tmp_path, full,
                          [(method, path, None, body) for method, path, body in operations],
                          first=("GET", entry, None, 404))
    recorder.assert_documented_and_covered("/api/v2/")


def test_every_platform_answer_is_documented_and_every_example_is_real(
        recorder, platform_world, monkeypatch, make_app, tmp_path):
    world, call = platform_world, recorder
    path = PLATFORM_PATH
    me = {"Authorization": f"Token {world.token(world.member)}"}
    acme = {"platform_key": "acme-corp"}
    revoked_key = make_api_token(world.member)
    revoked = db.session.scalars(db.select(ApiToken).where(ApiToken.user_id == world.member.id)
                                 .order_by(ApiToken.id.desc())).first()
    accounts.revoke_api_token(FACTORY, revoked)
    idle = make_user("idle_user", password="")
    add_member(world.platform, idle)
    idle_key = make_api_token(idle)
    idle.is_active = False
    db.session.commit()
    both = make_user("both_places", password="")
    add_member(world.platform, both)
    add_member(world.other_platform, both)
    limited_key = accounts.create_api_token(FACTORY, both, platform=world.platform).key
    db.session.commit()
    methods = ("GET", "HEAD", "PATCH", "PUT", "DELETE")
    body = {"metadata": {"theme": "dark"}}

    # the order of checks, for every method: 401, 400, 404, 403, 404
    for method in methods:
        for headers in ({}, {"Authorization": "Bearer abc"}, {"Authorization": "Token"},
                        {"Authorization": "Token a b"}, {"Authorization": "Token nope"},
                        {"Authorization": f"Token {revoked_key}"},
                        {"Authorization": f"Token {idle_key}"}):
            call(method, path, query=acme, headers=headers, json=body, expect=401)
        call(method, path, headers=me, json=body, expect=400)
        call(method, path, query={"platform_key": "nope"}, headers=me, json=body, expect=404)
        call(method, path, query=acme, json=body, expect=404,
             headers={"Authorization": f"Token {world.token(world.outsider)}"})
        call(method, path, query={"platform_key": "globex"}, json=body, expect=404,
             headers={"Authorization": f"Token {limited_key}"})
        call(method, path, query={**acme, "username": "Other_User"}, headers=me, json=body,
             expect=403)
        call(method, path, query={**acme, "username": "ghost"}, json=body, expect=404,
             headers={"Authorization": f"Token {world.token(world.admin)}"})
        call(method, path, query=acme, json=body, expect=404,  # a superadmin, no member here
             headers={"Authorization": f"Token {world.token(world.superadmin)}"})

    # nothing stored; create only; replace, merge, read back
    call("GET", path, query=acme, headers=me, expect=200)
    call("GET", path, query=acme, headers=me, data=TOO_LARGE, expect=413)
    call("HEAD", path, query=acme, headers=me, expect=200)
    call("PUT", path, query=acme, headers={**me, "If-None-Match": "*"}, expect=200,
         json={"metadata": {"language": "en", "legacyTheme": "blue"}})
    call("PUT", path, query=acme, headers={**me, "If-None-Match": "*"}, json=body, expect=412)
    call("PATCH", path, query=acme, headers={**me, "If-Match": '"stale"'}, json=body, expect=412)
    call("DELETE", path, query=acme, headers={**me, "If-Match": '"stale"'}, expect=412)
    call("PATCH", path, query=acme, headers=me, expect=200,
         json={"metadata": {"theme": "dark"}, "delete_keys": ["legacyTheme"]})
    call("GET", path, query=acme, headers=me, expect=200)
    call("GET", path.rstrip("/"), query=acme, headers=me, expect=200)
    call("GET", path, query={**acme, "username": "JOHN_DOE"}, expect=200,
         headers={"Authorization": f"Token {world.token(world.admin)}"})

    # bad bodies
    for method, data in (("PATCH", ""), ("PUT", "")):
        call(method, path, query=acme, headers=me, data=data, expect=400)
    stored_errors = ({"metadata": "x"}, {"metadata": None}, {"metadata": {"big": "x" * 300}},
                     {"metadata": {"a": {"b": {"c": {"d": {}}}}}}, {"metadata": {"a": "x\u0000"}})
    for json_body in ({}, {"delete_keys": "x"}, {"delete_keys": None}, {"delete_keys": [1]},
                      *stored_errors, [1]):
        call("PATCH", path, query=acme, headers=me, json=json_body, expect=400)
    for json_body in ({}, *stored_errors, [1]):
        call("PUT", path, query=acme, headers=me, json=json_body, expect=400)
    for method in ("PATCH", "PUT"):
        call(method, path, query=acme, headers=me, data='{"metadata": {"a": "\\ud800"}}',
             expect=400)
        call(method, path, query=acme, headers=me, data="not json", expect=400)
        call(method, path, query=acme, headers=me, data=TOO_LARGE, expect=413)

    # methods the path does not serve, with and without the trailing slash
    call("POST", path, query=acme, headers=me, json=body, expect=405)
    call("POST", path.rstrip("/"), query=acme, headers=me, json=body, expect=405)

    call("DELETE", path, query=acme, headers=me, data=TOO_LARGE, expect=413)
    call("DELETE", path, query=acme, headers=me, expect=204)  # nothing stored: still 204

    # the platform's schema (CONTRACT 8): its endpoint, protected keys, validation
    schema_path = path + "schema/"
    call("GET", schema_path, query=acme, headers=me, expect=200)  # no schema yet
    schemas.set_schema(FACTORY, world.platform, {"type": "object", "properties": {
        "plan": {"type": "string", "enum": ["free", "pro", "enterprise"], "readOnly": True},
        "theme": {"type": "string"}}})
    db.session.commit()
    call("GET", schema_path, query=acme, headers=me, expect=200)
    call("GET", schema_path.rstrip("/"), query=acme, headers=me, expect=200)
    for headers in ({}, {"Authorization": "Token nope"}, {"Authorization": f"Token {idle_key}"}):
        call("GET", schema_path, query=acme, headers=headers, expect=401)
    call("GET", schema_path, headers=me, expect=400)
    call("GET", schema_path, query={"platform_key": "nope"}, headers=me, expect=404)
    call("GET", schema_path, query=acme, expect=404,
         headers={"Authorization": f"Token {world.token(world.outsider)}"})
    call("GET", schema_path, query=acme, headers=me, data=TOO_LARGE, expect=413)
    call("POST", schema_path, query=acme, headers=me, json=body, expect=405)
    admin_for_john = ({**acme, "username": "john_doe"},
                      {"Authorization": f"Token {world.token(world.admin)}"})
    for method in ("PATCH", "PUT"):
        call(method, path, query=acme, headers=me, json={"metadata": {"plan": "pro"}},
             expect=403)
        call(method, path, query=admin_for_john[0], headers=admin_for_john[1],
             json={"metadata": {"plan": "platinum"}}, expect=400)
    monkeypatch.setattr(schemas, "get_schema", lambda *args: 1 / 0)
    call("GET", schema_path, query=acme, headers=me, expect=500)
    monkeypatch.undo()
    schemas.set_schema(FACTORY, world.platform, None)
    db.session.commit()

    search_scenario(call, world, monkeypatch, TOO_LARGE)
    call("DELETE", path, query=acme, headers=me, expect=204)  # back to nothing stored

    # unexpected errors, for every method
    def broken(*args, **kwargs):
        raise RuntimeError("secret internals")

    for name in ("get_document", "patch_document", "replace_document", "delete_document"):
        monkeypatch.setattr(platform_service, name, broken)
    for method in methods:
        response = call(method, path, query=acme, headers=me, json=body, expect=500)
        assert b"secret" not in response.data
    monkeypatch.undo()

    with_limit_and_outage(recorder, make_app, tmp_path, me,
                          [(method, path, acme, body) for method in methods],
                          first=("GET", path, acme, 200))
    recorder.assert_documented_and_covered("/api/core/")


def test_the_check_fails_when_an_example_is_wrong(recorder, platform_world):
    """The scenario tests above are only as good as `check`: a wrong example must fail it."""
    me = {"Authorization": f"Token {platform_world.token(platform_world.member)}"}
    db.session.rollback()
    response = recorder.client.patch(PLATFORM_PATH, query_string={"platform_key": "acme-corp"},
                                     headers=me, data=TOO_LARGE)
    assert check(recorder.spec, "PATCH", PLATFORM_PATH, response)[0] == []

    wrong = copy.deepcopy(recorder.spec)
    example = wrong["paths"][PLATFORM_PATH]["patch"]["responses"]["413"]["content"][
        "application/json"]["examples"]["too-large"]
    example["value"] = {"detail": "Request body too large."}
    problems, hits = check(wrong, "PATCH", PLATFORM_PATH, response)
    assert problems and "none of the documented examples" in problems[0]
    assert ("/api/core/users/platform-metadata/", "patch", "413", "too-large") in \
        response_examples(wrong, "/api/core/") - hits

    no_header = copy.deepcopy(recorder.spec)
    del no_header["paths"][PLATFORM_PATH]["patch"]["responses"]["413"]["headers"]["X-Request-ID"]
    no_header["paths"][PLATFORM_PATH]["patch"]["responses"]["200"]["headers"].pop("ETag")
    db.session.rollback()
    ok = recorder.client.patch(PLATFORM_PATH, query_string={"platform_key": "acme-corp"},
                               headers=me, json={"metadata": {"a": 1}})
    assert any("header ETag sent but not documented" in p
               for p in check(no_header, "PATCH", PLATFORM_PATH, ok)[0])

    missing_status = copy.deepcopy(recorder.spec)
    del missing_status["paths"][PLATFORM_PATH]["patch"]["responses"]["413"]
    assert "status not documented" in check(missing_status, "PATCH", PLATFORM_PATH, response)[0][0]


# --- the readable reference ---------------------------------------------------------------------

def test_docs_page_is_a_readable_reference_of_every_endpoint(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    for fragment in ("/api/v2/metadata/{key}", "/api/core/users/platform-metadata/",
                     "Unauthenticated.", "Platform not found", "platform_key query parameter is required",
                     "Invalid scope(s) provided."):
        assert fragment in page
    assert "cdn" not in page.lower()

    from webapp.api.openapi import document
    from webapp.api.openapi.rendering import anchor, markdown_inline

    spec = document()  # in its own key order, as the page shows it
    contents = page[page.index('id="contents"'):page.index('id="overview"')]
    for path, item in spec["paths"].items():
        assert f"<code>{path}</code>" in page
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            assert f"{method.upper()}</span> <code>{path}</code>" in page
            assert f'href="#{anchor(method, path)}"' in contents  # listed in the contents
            assert f'id="{anchor(method, path)}"' in page
            assert str(markdown_inline(operation["summary"])) in page
            for status, documented in operation["responses"].items():
                assert str(markdown_inline(documented["description"])) in page, (method, path, status)
                for example in documented.get("content", {}).get("application/json", {}).get(
                        "examples", {}).values():
                    assert str(markdown_inline(example["summary"])) in page
                    shown = json.dumps(example["value"], indent=2, ensure_ascii=False)
                    assert str(escape(shown)) in page, (method, path, status, shown)
    for message in ("Request body exceeds 1048576 bytes.", "User inactive or deleted.",
                    "The key field format is invalid.", "Metadata exceeds 65536 bytes."):
        assert message in page
    # The descriptions' Markdown is rendered: code spans, not backticks.
    overview = page[page.index('id="overview"'):page.index('id="authentication"')]
    assert "<code>/api/v2/metadata</code>" in overview and "`" not in overview


def test_docs_page_escapes_what_it_shows(client, monkeypatch):
    from webapp.api import openapi

    real = openapi.document
    evil = "<script>alert('x')</script>"

    def hostile() -> dict:
        spec = real()
        spec["info"]["description"] = evil
        operation = spec["paths"][PLATFORM_PATH]["get"]
        operation["summary"] = evil
        operation["responses"]["403"]["description"] = evil
        operation["responses"]["404"]["content"]["application/json"]["examples"][
            "user-not-found"] = {"summary": evil, "value": {"error": evil}}
        spec["paths"][PLATFORM_PATH]["parameters"][0]["description"] = evil
        spec["components"]["securitySchemes"]["token"]["description"] = evil
        spec["components"]["securitySchemes"]["bearer"]["description"] = "[x](javascript:alert(1))"
        return spec

    monkeypatch.setattr(openapi, "document", hostile)
    page = client.get("/api/docs").get_data(as_text=True)
    assert "<script>alert" not in page
    assert all(tag.startswith('<script src="/static/') for tag in re.findall(r"<script[^>]*>", page))
    # Markdown descriptions are rendered with raw HTML off: the tag is shown, never obeyed.
    assert page.count("&lt;script&gt;alert(") >= 6
    assert "javascript:" not in page.lower().replace("[x](javascript:alert(1))", "")
    assert str(escape(json.dumps({"error": evil}, indent=2))) in page  # an example's JSON, too


def test_the_document_and_the_server_agree_where_they_once_did_not(client, platform_world):
    """X-Request-ID of any length is accepted (and replaced when not kept); a PATCH body of
    `{}` is refused by both; PUT of a key holding a slash is a documented 404."""
    spec = client.get("/api/openapi.json").get_json()
    parameter = next(p for p in spec["paths"]["/api/v2/metadata"]["parameters"]
                     if p["name"] == "X-Request-ID")
    long_id = "a" * 65
    assert Draft202012Validator(parameter["schema"]).is_valid(long_id)
    answered = client.get("/api/v2/metadata", headers={"X-Request-ID": long_id})
    assert answered.status_code == 401 and answered.headers["X-Request-ID"] not in ("", long_id)

    patch_schema = dict(spec["components"]["schemas"]["PlatformPatch"],
                        components=spec["components"])
    assert not Draft202012Validator(patch_schema).is_valid({})
    assert Draft202012Validator(patch_schema).is_valid({"delete_keys": []})
    world = platform_world
    refused = client.patch(PLATFORM_PATH, query_string={"platform_key": "acme-corp"}, json={},
                           headers={"Authorization": f"Token {world.token(world.member)}"})
    assert refused.status_code == 400

    put = spec["paths"]["/api/v2/metadata/{key}"]["put"]["responses"]
    assert "404" in put
