"""Erasing a user (CONTRACT section 10): everything goes in one transaction, the audit log
keeps its events with every value "(erased)", and the append-only rule lets exactly that
through and nothing more."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, inspect, select, text
from sqlalchemy.exc import DBAPIError

from tests.conftest import IsolatedClient
from tests.dashboard.conftest import login
from tests.factories import (
    add_member,
    bearer_token,
    make_api_token,
    make_client,
    make_platform,
    make_user,
)
from webapp import accounts
from webapp.extensions import db
from webapp.metadata import per_client
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, User
from webapp.models.audit import ERASED, erased_changes

OPERATOR = Actor.system("cli", "cli:operator")
NEEDLES = ("zelda-7f3k", "zelda@erase.test", "zelda-secret-doc", "zelda-secret-entry")


@pytest.fixture
def world(app):
    shop = make_platform("shop")
    zelda = make_user("Zelda-7F3K", email="Zelda@Erase.test")
    other = make_user("otto")
    add_member(shop, zelda, "admin")
    add_member(shop, other)
    client, _ = make_client(shop)
    documents.replace_document(OPERATOR, zelda, shop, {"note": "zelda-secret-doc", "n": 1})
    per_client.put_entry(OPERATOR, zelda, client, "k", {"value": "zelda-secret-entry"})
    # Zelda acting on someone else: her name is the actor label of that event.
    documents.replace_document(Actor(via="dashboard", user=zelda), other, shop,
                               {"by": "a colleague"})
    db.session.commit()
    api_key = make_api_token(zelda)
    access_token = bearer_token(client, zelda)
    return {"shop": shop, "zelda": zelda, "other": other, "client": client,
            "api_key": api_key, "access_token": access_token}


def rows_of_every_table():
    """Every row of every table in the database (not only the models'), as text."""
    names = inspect(db.session.connection()).get_table_names()
    assert "audit_events" in names and "users" in names
    for name in names:
        for row in db.session.execute(text(f'SELECT * FROM "{name}"')):
            yield name, json.dumps([str(value) for value in row], ensure_ascii=False).lower()


def erase(user):
    removed = accounts.erase_user(OPERATOR, user)
    db.session.commit()
    return removed


def test_erasure_leaves_no_value_of_the_user_in_any_table(world):
    found = {needle for _, row in rows_of_every_table() for needle in NEEDLES if needle in row}
    assert found == set(NEEDLES)  # the search would see them
    prefix = world["api_key"][:8].lower()
    assert any(prefix in row for _, row in rows_of_every_table())

    erase(world["zelda"])

    for table, row in rows_of_every_table():
        for needle in (*NEEDLES, prefix):
            assert needle not in row, (table, needle, row)


def test_erasure_removes_everything_and_keeps_the_events_shape(world):
    zelda_id, other = world["zelda"].id, world["other"]
    about = list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.target_user_id == zelda_id).order_by(AuditEvent.id)))
    shapes = [(e.id, e.action, e.via, e.platform_id, e.occurred_at, erased_changes(e.changes))
              for e in about]
    acted = db.session.scalars(select(AuditEvent).where(
        AuditEvent.actor_user_id == zelda_id)).one()
    acted_changes = acted.changes
    db.session.commit()

    removed = erase(world["zelda"])

    assert removed == {"documents": 1, "entries": 1, "api_tokens": 1, "oauth_tokens": 1,
                       "authorization_codes": 0, "memberships": 1,
                       "audit_events_erased": len(about) + 1}
    assert db.session.get(User, zelda_id) is None
    assert User.by_username("zelda-7f3k") is None
    events = {e.id: e for e in db.session.scalars(select(AuditEvent))}
    for event_id, action, via, platform_id, occurred_at, changes in shapes:
        event = events[event_id]
        assert (event.action, event.via, event.platform_id, event.occurred_at) == (
            action, via, platform_id, occurred_at)
        assert event.target_label == ERASED and event.target_user_id is None
        assert event.changes == changes
    doc_event = next(e for e in events.values() if e.action == "platform_metadata.replace"
                     and e.target_label == ERASED)
    assert doc_event.changes == {"n": {"new": ERASED}, "note": {"new": ERASED}}
    # Her act on another user: her name goes, the other user's values stay.
    acted = events[acted.id]
    assert acted.actor_label == ERASED and acted.actor_user_id is None
    assert acted.target_label == "otto" and acted.changes == acted_changes
    assert documents.get_document(other, world["shop"]).data == {"by": "a colleague"}
    erasure = db.session.scalars(select(AuditEvent).where(
        AuditEvent.action == "user.erase")).one()
    assert (erasure.actor_label, erasure.via, erasure.target_label) == (
        "cli:operator", "cli", ERASED)
    assert erasure.changes["documents"] == {"old": 1}


def test_tokens_and_sessions_of_the_erased_user_stop_at_once(world, app):
    browser = IsolatedClient(app, app.response_class)
    login(browser, world["zelda"])
    assert browser.get("/admin/").status_code == 200
    api = {"Authorization": f"Token {world['api_key']}"}
    bearer = {"Authorization": f"Bearer {world['access_token']}"}
    assert app.test_client().get("/api/core/users/platform-metadata/?platform_key=shop",
                                 headers=api).status_code == 200
    assert app.test_client().get("/api/v2/metadata", headers=bearer).status_code == 200

    erase(world["zelda"])

    answer = app.test_client().get("/api/core/users/platform-metadata/?platform_key=shop",
                                   headers=api)
    assert answer.status_code == 401 and answer.get_json() == {"detail": "Invalid token."}
    assert app.test_client().get("/api/v2/metadata", headers=bearer).status_code == 401
    assert browser.get("/admin/").status_code == 302
    # SQLite gives the erased user's id to the next user: the old session stays ended.
    newcomer = make_user("newcomer")
    add_member(world["shop"], newcomer, "admin")
    assert browser.get("/admin/").status_code == 302


def test_the_cli_asks_unless_yes_and_prints_json(world, app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "delete", "zelda-7f3k"], input="n\n")
    assert result.exit_code == 1 and User.by_username("zelda-7f3k") is not None
    result = runner.invoke(args=["users", "delete", "zelda-7f3k", "--yes", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["erased"] is True
    db.session.expire_all()
    assert User.by_username("zelda-7f3k") is None
    result = runner.invoke(args=["users", "delete", "zelda-7f3k", "--yes"])
    assert result.exit_code == 1 and "No user" in result.output


# --- the append-only rule: what it still refuses -----------------------------------------


def one_event_about(user) -> AuditEvent:
    return db.session.scalars(select(AuditEvent).where(
        AuditEvent.target_user_id == user.id).limit(1)).one()


@pytest.mark.parametrize("change", [
    {"target_label": ERASED},
    {"actor_label": ERASED},
    {"changes": {"anything": ERASED}},
    {"action": "forged.action"},
])
def test_the_orm_refuses_erasing_events_of_a_user_not_being_erased(world, change):
    event = one_event_about(world["other"])
    for name, value in change.items():
        setattr(event, name, value)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_anything_but_the_erased_form_even_for_an_erased_user(world):
    zelda = world["zelda"]
    accounts.audit.record(OPERATOR, "user.erase", target_user=zelda)
    db.session.flush()
    event = db.session.scalars(select(AuditEvent).where(
        AuditEvent.target_user_id == zelda.id, AuditEvent.action == "platform_metadata.replace")
    ).one()
    event.changes = {"note": {"new": "something else"}}
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    accounts.audit.record(OPERATOR, "user.erase", target_user=zelda)
    db.session.flush()
    event = db.session.get(AuditEvent, event.id)
    event.request_id = "forged"
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()
    event = db.session.get(AuditEvent, event.id)
    db.session.delete(event)
    with pytest.raises(RuntimeError, match="append-only"):
        db.session.flush()
    db.session.rollback()


def sql(statement: str, **params):
    with db.engine.connect() as conn:
        with conn.begin():
            return conn.execute(text(statement), params)


def test_the_trigger_allows_the_erasure_and_refuses_the_rest(world):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the trigger is PostgreSQL's; the ORM guard is tested on every engine")
    db.session.commit()
    zelda, other = world["zelda"].id, world["other"].id
    event_id = db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.target_user_id == zelda, AuditEvent.action == "platform_metadata.replace"))
    other_event = db.session.scalar(select(AuditEvent.id).where(
        AuditEvent.target_user_id == other).limit(1))
    refused = [
        # no user.erase event names her yet
        ("UPDATE audit_events SET target_label = '(erased)' WHERE id = :id", event_id),
        ("UPDATE audit_events SET action = 'x' WHERE id = :id", other_event),
        ("DELETE FROM audit_events WHERE id = :id", other_event),
    ]
    for statement, target in refused:
        with pytest.raises(DBAPIError, match="append-only"):
            sql(statement, id=target)
    sql("INSERT INTO audit_events (occurred_at, actor_label, via, action, target_user_id, "
        "target_label, changes) VALUES (now(), 'x', 'cli', 'user.erase', :u, '(erased)', "
        "'{}')", u=zelda)
    for statement in (
        "UPDATE audit_events SET changes = '{\"note\": {\"new\": \"forged\"}}' WHERE id = :id",
        "UPDATE audit_events SET target_label = 'someone' WHERE id = :id",
        "UPDATE audit_events SET target_label = '(erased)', request_id = 'r' WHERE id = :id",
        "UPDATE audit_events SET actor_label = '(erased)' WHERE id = :id",  # actor not erased
        "DELETE FROM audit_events WHERE id = :id",
    ):
        with pytest.raises(DBAPIError, match="append-only"):
            sql(statement, id=event_id)
    sql("UPDATE audit_events SET target_label = '(erased)', "
        "changes = audit_erased_changes(changes) WHERE id = :id", id=event_id)
    erased = db.session.scalar(select(AuditEvent.changes).where(AuditEvent.id == event_id))
    assert erased == {"n": {"new": ERASED}, "note": {"new": ERASED}}
    assert db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.id == other_event)) == 1
