"""`flask demo seed`: what `make run` seeds on a first start, and that what it prints works."""
from __future__ import annotations

import json

from sqlalchemy import func, select

from tests.factories import make_user
from webapp import access
from webapp.dashboard.auth import authenticate
from webapp.extensions import db
from webapp.models import AuditEvent, Platform, User


def seed(app, *args):
    return app.test_cli_runner().invoke(args=["demo", "seed", *args])


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_seed_prints_credentials_that_sign_in_and_call_both_apis(app, client):
    result = seed(app, "--json")

    assert result.exit_code == 0, result.output
    demo = json.loads(result.output)
    assert demo["seeded"] is True and demo["platform_key"] == "demo"
    roles = {user["username"]: user["role"] for user in demo["users"]}
    assert roles == {"demo-admin": "admin", "demo-support": "support", "alice": "member",
                     "bob": "member"}
    for user in demo["users"]:
        assert authenticate(user["username"], user["password"]) is not None
    platform = Platform.by_key("demo")
    assert access.is_tenant_admin(User.by_username("demo-admin"), platform)

    response = client.get("/api/core/users/platform-metadata/",
                          query_string={"platform_key": "demo", "username": "alice"},
                          headers={"Authorization": f"Token {demo['api_token']['token']}"})
    assert response.status_code == 200
    assert response.json["metadata"]["theme"] == "dark"

    response = client.get("/api/v2/metadata",
                          headers={"Authorization": f"Bearer {demo['access_token']['token']}"})
    assert response.status_code == 200
    assert [entry["key"] for entry in response.json["data"]] == ["locale", "onboarding_banner"]
    assert response.json["data"][1]["expires_at"] is not None

    response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                           auth=(demo["client"]["client_id"], demo["client"]["client_secret"]))
    assert response.status_code == 400  # the demo app is not allowed that grant...
    assert response.json["error"] == "unauthorized_client"  # ...but its secret was accepted


def test_seed_is_audited_like_any_other_change(app):
    seed(app)
    actions = set(db.session.scalars(select(AuditEvent.action)))
    assert {"platform.create", "user.create", "membership.set", "api_token.create",
            "oauth_client.create", "platform_metadata.replace",
            "client_metadata.create"} <= actions


def test_the_text_output_names_the_sign_in_page_and_every_password(app, monkeypatch):
    monkeypatch.setenv("PORT", "8123")
    result = seed(app)

    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:8123/login" in result.output
    for username in ("demo-admin", "demo-support", "alice", "bob"):
        assert username in result.output


def test_if_empty_does_nothing_once_anyone_exists(app):
    make_user("somebody")
    before = count(AuditEvent)

    result = seed(app, "--if-empty", "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"seeded": False}
    assert Platform.by_key("demo") is None
    assert count(User) == 1 and count(AuditEvent) == before


def test_if_empty_seeds_a_fresh_database(app):
    result = seed(app, "--if-empty")

    assert result.exit_code == 0, result.output
    assert Platform.by_key("demo") is not None


def test_a_second_seed_is_refused_with_one_line_and_changes_nothing(app):
    seed(app)
    users, events = count(User), count(AuditEvent)

    result = seed(app)

    assert result.exit_code != 0
    assert result.output.strip() == "Error: Demo data exists already (platform 'demo')."
    assert (count(User), count(AuditEvent)) == (users, events)


def test_a_lost_demo_password_can_be_set_again(app):
    seed(app)
    runner = app.test_cli_runner()

    result = runner.invoke(args=["users", "set-password", "demo-admin", "--password", "a new long s3cret"])

    assert result.exit_code == 0, result.output
    assert authenticate("demo-admin", "a new long s3cret") is not None
    assert db.session.scalar(select(AuditEvent.action).order_by(AuditEvent.id.desc())) == \
        "user.set_password"
    result = runner.invoke(args=["users", "set-password", "nobody", "--password", "x"])
    assert result.exit_code != 0 and result.output.strip() == "Error: No user 'nobody'."


def test_a_skipped_seed_says_so_and_how_to_get_new_credentials(app):
    make_user("somebody")
    before = count(AuditEvent)

    result = seed(app, "--if-empty")

    assert result.exit_code == 0, result.output
    assert result.output.startswith("Demo seed skipped: the database has users already")
    assert "flask --app app demo seed --reset" in result.output
    assert Platform.by_key("demo") is None
    assert count(User) == 1 and count(AuditEvent) == before


def test_reset_gives_the_demo_new_credentials_that_work_and_keeps_its_data(app, client):
    old = json.loads(seed(app, "--json").output)
    documents = {
        name: client.get("/api/core/users/platform-metadata/",
                         query_string={"platform_key": "demo", "username": name},
                         headers={"Authorization": f"Token {old['api_token']['token']}"}).json
        for name in ("alice", "bob")
    }
    users, events = count(User), count(AuditEvent)

    result = seed(app, "--reset", "--json")

    assert result.exit_code == 0, result.output
    new = json.loads(result.output)
    assert new["reset"] is True and new["seeded"] is False
    assert [u["username"] for u in new["users"]] == ["demo-admin", "demo-support", "alice", "bob"]
    for before, after in zip(old["users"], new["users"]):
        assert after["password"] != before["password"]
        assert authenticate(after["username"], after["password"]) is not None
        assert authenticate(before["username"], before["password"]) is None
    # The new API token reads the same documents: the metadata stayed.
    for name, document in documents.items():
        response = client.get("/api/core/users/platform-metadata/",
                              query_string={"platform_key": "demo", "username": name},
                              headers={"Authorization": f"Token {new['api_token']['token']}"})
        assert response.status_code == 200 and response.json == document
    response = client.get("/api/v2/metadata",
                          headers={"Authorization": f"Bearer {new['access_token']['token']}"})
    assert response.status_code == 200, response.json
    assert [entry["key"] for entry in response.json["data"]] == ["locale", "onboarding_banner"]
    # Same client, new secret: the old one no longer authenticates.
    assert new["client"]["client_id"] == old["client"]["client_id"]
    for secret, error in ((new["client"]["client_secret"], "unauthorized_client"),
                          (old["client"]["client_secret"], "invalid_client")):
        response = client.post("/oauth/token", data={"grant_type": "client_credentials"},
                               auth=(new["client"]["client_id"], secret))
        assert response.json["error"] == error
    assert count(User) == users
    actions = list(db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.id > events).order_by(AuditEvent.id)))
    assert actions.count("user.set_password") == 4
    assert "api_token.create" in actions and "oauth_client.rotate_secret" in actions


def test_reset_without_demo_data_is_refused_and_changes_nothing(app):
    make_user("somebody")
    events = count(AuditEvent)

    result = seed(app, "--reset")

    assert result.exit_code != 0
    assert result.output.strip() == \
        "Error: There is no demo data to reset: run `flask demo seed`."
    assert count(AuditEvent) == events and Platform.by_key("demo") is None


def test_the_text_output_of_a_reset_says_what_happened(app):
    seed(app)
    result = seed(app, "--reset")
    assert result.exit_code == 0, result.output
    assert 'Demo credentials reset on platform "demo"' in result.output
    for username in ("demo-admin", "demo-support", "alice", "bob"):
        assert username in result.output
