"""`flask platforms set-schema KEY FILE|- [--clear]` and the demo platform's schema."""
from __future__ import annotations

import json

import pytest

from tests.factories import add_member, make_api_token, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, Platform, User

SCHEMA = {"type": "object", "properties": {"plan": {"type": "string", "readOnly": True}}}


@pytest.fixture
def acme(app):
    platform = make_platform("acme-corp")
    user = make_user("john_doe", password="")
    add_member(platform, user)
    return platform


def run(app, *args, stdin=None):
    return app.test_cli_runner().invoke(
        args=["platforms", "set-schema", *args], input=stdin)


def current(platform):
    db.session.expire_all()
    return schemas.get_schema(Platform.by_key(platform.platform_key)).schema


def test_set_from_a_file_then_from_stdin_then_clear(app, acme, tmp_path):
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(SCHEMA))
    result = run(app, "acme-corp", str(path))
    assert result.exit_code == 0, result.output
    assert "protected keys: plan" in result.output
    assert current(acme) == SCHEMA
    result = run(app, "acme-corp", "-", stdin='{"type": "object"}')
    assert result.exit_code == 0
    assert current(acme) == {"type": "object"}
    result = run(app, "acme-corp", "--clear")
    assert result.exit_code == 0
    assert current(acme) is None
    events = list(db.session.scalars(db.select(AuditEvent).where(
        AuditEvent.action == "platform.schema").order_by(AuditEvent.id)))
    assert [e.via for e in events] == ["cli", "cli", "cli"]
    assert events[1].changes == {"schema": {"old": SCHEMA, "new": {"type": "object"}}}


@pytest.mark.parametrize("text, words", [
    ("{not json", "is not valid JSON"),
    ('{"type": "object", "x": NaN}', "is not valid JSON"),
    ('{"type": "string"}', '"type": "object"'),
    ('{"type": "object", "properties": {"a": {"$ref": "https://example.com/a.json"}}}',
     "points outside the schema"),
])
def test_an_invalid_schema_is_refused_with_a_clear_message(app, acme, text, words):
    run(app, "acme-corp", "-", stdin=json.dumps(SCHEMA))
    result = run(app, "acme-corp", "-", stdin=text)
    assert result.exit_code == 1
    assert words in result.stderr
    assert result.stderr.startswith("Error: ")
    assert current(acme) == SCHEMA


def test_usage_errors(app, acme):
    assert "No platform 'nope'" in run(app, "nope", "--clear").stderr
    assert "either FILE" in run(app, "acme-corp").stderr
    assert "either FILE" in run(app, "acme-corp", "-", "--clear", stdin="{}").stderr


def test_documents_that_would_fail_are_counted_and_left_alone(app, acme):
    user = User.by_username("john_doe")
    documents.replace_document(Actor.system("cli", "t"), user, acme, {"plan": 3})
    db.session.commit()
    result = run(app, "acme-corp", "-", stdin=json.dumps(SCHEMA))
    assert result.exit_code == 0
    assert "1 of 1 stored documents do not validate" in result.stderr
    assert "john_doe /plan: 3 is not of type 'string'" in result.stderr
    assert documents.get_document(user, acme).data == {"plan": 3}


def test_the_demo_platform_protects_plan(app, client):
    result = app.test_cli_runner().invoke(args=["demo", "seed", "--json"])
    assert result.exit_code == 0, result.output
    demo = json.loads(result.output)
    platform = Platform.by_key("demo")
    assert schemas.protected_keys(platform) == {"plan"}
    alice = User.by_username("alice")
    alice_token = make_api_token(alice)
    path = "/api/core/users/platform-metadata/"
    response = client.patch(path, query_string={"platform_key": "demo"},
                            headers={"Authorization": f"Token {alice_token}"},
                            json={"metadata": {"plan": "enterprise"}})
    assert response.status_code == 403
    assert response.get_json()["keys"] == ["plan"]
    response = client.patch(path, query_string={"platform_key": "demo", "username": "alice"},
                            headers={"Authorization": f"Token {demo['api_token']['token']}"},
                            json={"metadata": {"plan": "enterprise"}})
    assert response.status_code == 200
    assert response.get_json()["metadata"]["plan"] == "enterprise"
