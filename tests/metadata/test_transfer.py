"""Export and import of a platform's metadata as JSON Lines (CONTRACT section 10)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.factories import add_member, make_client, make_client_entry, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import per_client, transfer
from webapp.metadata import platform as documents
from webapp.metadata.audit import Actor
from webapp.models import AuditEvent, ClientMetadataEntry, OAuth2Client, PlatformDocument
from webapp.timeutil import iso_z, utcnow

STAFF = Actor.system("cli", "tests")
IMPORTER = Actor.system("cli:import", "tests")


@pytest.fixture
def world(app):
    platform = make_platform("shop")
    other = make_platform("elsewhere")
    alice, bob, stranger = make_user("alice"), make_user("Bob"), make_user("stranger")
    add_member(platform, alice)
    add_member(platform, bob)
    add_member(other, stranger)
    client, _ = make_client(platform)
    other_client, _ = make_client(other)
    return {"platform": platform, "alice": alice, "bob": bob, "stranger": stranger,
            "client": client, "other_client": other_client}


def seed(world):
    p, c = world["platform"], world["client"]
    documents.replace_document(STAFF, world["alice"], p, {"plan": "pro", "n": [1, 2.5, None]})
    documents.replace_document(STAFF, world["bob"], p, {"ünï": "cödé", "nested": {"a": True}})
    per_client.put_entry(STAFF, world["alice"], c, "theme", {"value": "dark"})
    per_client.put_entry(STAFF, world["alice"], c, "B", {"value": "x",
                                                         "expires_at": "2099-01-02T03:04:05Z"})
    per_client.put_entry(STAFF, world["bob"], c, "lang", {"value": "fr"})
    db.session.commit()
    make_client_entry(world["bob"], c, "gone", expires_at=utcnow() - timedelta(minutes=1))


def export(platform) -> str:
    return "".join(transfer.export_lines(platform))


def stored():
    """Everything metadata holds, to compare before and after."""
    docs = sorted((d.user_id, d.platform_id, json.dumps(d.data, sort_keys=True), d.version)
                  for d in db.session.scalars(select(PlatformDocument)))
    entries = sorted((e.user_id, e.client_id, e.key, e.value, e.expires_at, e.version)
                     for e in db.session.scalars(select(ClientMetadataEntry)))
    return docs, entries


def audit_count(via=None):
    query = select(func.count()).select_from(AuditEvent)
    if via:
        query = query.where(AuditEvent.via == via)
    return db.session.scalar(query)


def wipe(world):
    for user in (world["alice"], world["bob"]):
        documents.delete_document(STAFF, user, world["platform"])
        for entry in per_client.list_entries(user, world["client"]):
            per_client.delete_entry(STAFF, user, world["client"], entry.key)
    db.session.execute(ClientMetadataEntry.__table__.delete())
    db.session.commit()


def run_import(world, lines, **kwargs):
    return transfer.import_lines(IMPORTER, world["platform"], lines, **kwargs).as_dict()


def test_export_is_the_contract_format_with_live_entries_only(world):
    seed(world)
    lines = [json.loads(line) for line in export(world["platform"]).splitlines()]
    doc = db.session.scalar(select(PlatformDocument).where(
        PlatformDocument.user_id == world["alice"].id))
    assert lines[0] == {"type": "platform_document", "username": "alice",
                        "metadata": {"plan": "pro", "n": [1, 2.5, None]},
                        "updated_at": iso_z(doc.updated_at)}
    assert list(lines[0]) == ["type", "username", "metadata", "updated_at"]
    assert lines[1]["username"] == "Bob" and lines[1]["metadata"]["ünï"] == "cödé"
    entries = [line for line in lines if line["type"] == "client_entry"]
    assert entries == [
        {"type": "client_entry", "username": "alice", "client_id": world["client"].client_id,
         "key": "B", "value": "x", "expires_at": "2099-01-02T03:04:05Z"},
        {"type": "client_entry", "username": "alice", "client_id": world["client"].client_id,
         "key": "theme", "value": "dark", "expires_at": None},
        {"type": "client_entry", "username": "Bob", "client_id": world["client"].client_id,
         "key": "lang", "value": "fr", "expires_at": None},
    ]
    assert list(entries[0]) == ["type", "username", "client_id", "key", "value", "expires_at"]
    assert "cödé" in export(world["platform"])  # UTF-8, not \u escapes


def test_export_leaves_out_other_platforms(world):
    seed(world)
    documents.replace_document(STAFF, world["stranger"], make_platform("third"), {"x": 1})
    per_client.put_entry(STAFF, world["stranger"], world["other_client"], "k", {"value": "v"})
    db.session.commit()
    assert "stranger" not in export(world["platform"])


def test_round_trip_reproduces_the_export_exactly(world):
    seed(world)
    first = export(world["platform"])
    wipe(world)
    assert export(world["platform"]) == ""
    report = run_import(world, first.splitlines(keepends=True))
    assert report == {"imported": 5, "skipped": 0, "errors": []}
    assert export(world["platform"]) == first
    assert audit_count("cli:import") == 5


def test_every_import_write_is_audited_as_cli_import(world):
    seed(world)
    line = {"type": "client_entry", "username": "alice", "client_id": world["client"].client_id,
            "key": "theme", "value": "light"}
    run_import(world, [json.dumps(line)])
    event = db.session.scalars(select(AuditEvent).where(AuditEvent.via == "cli:import")).one()
    assert event.action == "client_metadata.update"
    assert event.target_user_id == world["alice"].id
    assert event.changes == {"theme": {"old": {"value": "dark", "expires_at": None},
                                       "new": {"value": "light", "expires_at": None}}}


def test_import_audit_rows_are_those_of_the_same_writes_one_by_one(world):
    """The import builds its audit rows in bulk; they must be the single writes' rows."""
    alice, client, platform = world["alice"], world["client"], world["platform"]
    expiry = "2099-01-02T03:04:05.678+01:00"
    lines = [
        {"type": "client_entry", "username": "alice", "client_id": client.client_id,
         "key": "theme", "value": "dark"},
        {"type": "client_entry", "username": "alice", "client_id": client.client_id,
         "key": "theme", "value": "light", "expires_at": expiry},
        {"type": "platform_document", "username": "alice", "metadata": {"plan": "pro"}},
        {"type": "platform_document", "username": "alice", "metadata": {"plan": "pro"}},
    ]

    def events_after(last_id):
        return [{c: getattr(e, c) for c in AuditEvent.__table__.columns.keys()
                 if c not in ("id", "occurred_at")}
                for e in db.session.scalars(select(AuditEvent).where(AuditEvent.id > last_id)
                                            .order_by(AuditEvent.id))]

    start = db.session.scalar(select(func.max(AuditEvent.id))) or 0
    per_client.put_entry(IMPORTER, alice, client, "theme", {"value": "dark"})
    per_client.put_entry(IMPORTER, alice, client, "theme", {"value": "light", "expires_at": expiry})
    documents.replace_document(IMPORTER, alice, platform, {"plan": "pro"})
    documents.replace_document(IMPORTER, alice, platform, {"plan": "pro"})
    db.session.commit()
    one_by_one = events_after(start)
    db.session.execute(ClientMetadataEntry.__table__.delete())
    db.session.execute(PlatformDocument.__table__.delete())
    db.session.commit()
    middle = db.session.scalar(select(func.max(AuditEvent.id)))

    report = run_import(world, [json.dumps(line) for line in lines], batch_size=1)

    assert report == {"imported": 4, "skipped": 0, "errors": []}
    assert [e["action"] for e in one_by_one] == [
        "client_metadata.create", "client_metadata.update",
        documents.ACTION_REPLACE, documents.ACTION_REPLACE]
    assert events_after(middle) == one_by_one


def bad_lines(world):
    cid = world["client"].client_id
    entry = {"type": "client_entry", "username": "alice", "client_id": cid, "key": "k",
             "value": "v"}
    doc = {"type": "platform_document", "username": "alice", "metadata": {"a": 1}}
    return [
        ("{not json", "not a JSON object"),
        ("[1, 2]", "not a JSON object"),
        (json.dumps({**entry, "type": "user"}), "type must be"),
        (json.dumps({**entry, "type": ["client_entry"]}), "type must be"),
        (json.dumps({**entry, "type": {"a": 1}}), "type must be"),
        (json.dumps({**entry, "extra": 1}), "unknown field(s): extra"),
        (json.dumps({**entry, "username": ""}), "username: This field is required."),
        (json.dumps({**entry, "username": "stranger"}), "'stranger' is not a member"),
        (json.dumps({**entry, "username": "nobody"}), "'nobody' is not a member"),
        (json.dumps({**entry, "client_id": world["other_client"].client_id}), "no client"),
        (json.dumps({**entry, "key": "bad key!"}), "key: The key field format is invalid."),
        (json.dumps({**entry, "key": "k" * 256}), "must not be greater than 255"),
        (json.dumps({k: v for k, v in entry.items() if k != "value"}),
         "value: The value field is required."),
        (json.dumps({**entry, "value": 42}), "value: The value field must be a string."),
        (json.dumps({**entry, "value": "x" * 65536}), "must not be greater than 65535"),
        (json.dumps({**entry, "expires_at": "2001-01-01T00:00:00Z"}), "must be a date after now"),
        (json.dumps({**entry, "expires_at": "tomorrow"}), "must be a valid date"),
        (json.dumps({**doc, "metadata": "text"}), 'Expected a dictionary of items but got type "str"'),
        (json.dumps({k: v for k, v in doc.items() if k != "metadata"}),
         "metadata: This field is required."),
        (json.dumps({**doc, "metadata": {"big": "x" * 70000}}), "Metadata exceeds 65536 bytes."),
        (json.dumps({**doc, "updated_at": "soon"}), "updated_at: must be an ISO-8601"),
        (json.dumps({**doc, "updated_at": "2999-01-01T00:00:00Z"}), "must not be in the future"),
    ]


def test_every_kind_of_bad_line_is_skipped_with_its_number_and_writes_nothing(world):
    seed(world)
    before, events = stored(), audit_count()
    cases = bad_lines(world)
    report = run_import(world, [line for line, _ in cases])
    assert report["imported"] == 0 and report["skipped"] == len(cases)
    assert [e["line"] for e in report["errors"]] == list(range(1, len(cases) + 1))
    for error, (_, expected) in zip(report["errors"], cases):
        assert expected in error["error"], (error, expected)
    assert stored() == before
    assert audit_count() == events


def test_good_lines_around_bad_ones_are_written(world):
    cid = world["client"].client_id
    lines = [
        json.dumps({"type": "client_entry", "username": "ALICE", "client_id": cid,
                    "key": "one", "value": "1"}),
        json.dumps({"type": "client_entry", "username": "alice", "client_id": cid,
                    "key": "two", "value": 2}),
        "",
        json.dumps({"type": "platform_document", "username": "bob", "metadata": {"x": 1}}),
    ]
    report = run_import(world, lines, batch_size=2)
    assert report == {"imported": 2, "skipped": 1,
                      "errors": [{"line": 2, "error": "value: The value field must be a string."}]}
    assert [e.key for e in per_client.list_entries(world["alice"], world["client"])] == ["one"]
    assert documents.get_document(world["bob"], world["platform"]).data == {"x": 1}


def test_lines_apply_in_order_and_the_quota_counts_the_batch(world, make_app):
    app = make_app(METADATA_MAX_KEYS=2)
    cid = world["client"].client_id
    lines = [json.dumps({"type": "client_entry", "username": "alice", "client_id": cid,
                         "key": key, "value": value})
             for key, value in [("a", "1"), ("a", "2"), ("b", "3"), ("c", "4")]]
    db.session.commit()  # SQLite: free the write lock for the other app's session
    with app.app_context():
        platform = db.session.merge(world["platform"])
        report = transfer.import_lines(IMPORTER, platform, lines).as_dict()
        assert report["imported"] == 3 and report["skipped"] == 1
        assert report["errors"][0]["line"] == 4
        assert "must not exceed 2 keys" in report["errors"][0]["error"]
        db.session.remove()
    entries = per_client.list_entries(world["alice"], world["client"])
    assert [(e.key, e.value, e.version) for e in entries] == [("a", "2", 2), ("b", "3", 1)]


def test_stored_keys_are_found_whether_live_expired_or_absent(world, make_app):
    """An expired key is revived (a create, as with the API), a live one updated, a new one
    inserted, also when the (user, client) already has rows from an earlier batch."""
    app = make_app(METADATA_MAX_KEYS=3)
    alice, client = world["alice"], world["client"]
    per_client.put_entry(STAFF, alice, client, "live", {"value": "old"})
    db.session.commit()
    make_client_entry(alice, client, "gone", value="was", expires_at=utcnow() - timedelta(minutes=1))
    lines = [json.dumps({"type": "client_entry", "username": "alice",
                         "client_id": client.client_id, "key": key, "value": value})
             for key, value in [("live", "new"), ("gone", "back"), ("fresh", "1"), ("over", "2")]]
    db.session.commit()  # SQLite: free the write lock for the other app's session
    with app.app_context():
        platform = db.session.merge(world["platform"])
        report = transfer.import_lines(IMPORTER, platform, lines, batch_size=1).as_dict()
        db.session.remove()
    assert report["imported"] == 3 and [e["line"] for e in report["errors"]] == [4]
    assert "must not exceed 3 keys" in report["errors"][0]["error"]
    assert [(e.key, e.value, e.version) for e in per_client.list_entries(alice, client)] == [
        ("fresh", "1", 1), ("gone", "back", 2), ("live", "new", 2)]
    actions = db.session.scalars(select(AuditEvent.action).where(AuditEvent.via == "cli:import")
                                 .order_by(AuditEvent.id)).all()
    assert actions == ["client_metadata.update", "client_metadata.create",
                       "client_metadata.create"]


def test_a_batch_the_database_refuses_is_written_line_by_line(world):
    """A client deleted once the import has started: its lines cannot be stored (the
    database's foreign keys say so, in the middle of the batch); the batch's others are."""
    cid = world["client"].client_id
    other, _ = make_client(world["platform"])

    def lines():
        db.session.execute(OAuth2Client.__table__.delete().where(OAuth2Client.client_id == cid))
        db.session.commit()
        for client_id, key in [(cid, "gone"), (other.client_id, "kept"), (cid, "lost")]:
            yield json.dumps({"type": "client_entry", "username": "alice",
                              "client_id": client_id, "key": key, "value": "v"})

    report = run_import(world, lines(), batch_size=3)

    assert report["imported"] == 1 and [e["line"] for e in report["errors"]] == [1, 3], report
    assert all(e["error"].startswith("could not be stored: ") for e in report["errors"])
    assert [e.key for e in per_client.list_entries(world["alice"], other)] == ["kept"]
    assert db.session.scalar(select(func.count()).select_from(ClientMetadataEntry)) == 1
    assert audit_count("cli:import") == 1


def test_dry_run_writes_nothing_and_reports_as_a_real_run(world):
    seed(world)
    text = export(world["platform"])
    wipe(world)
    before, events = stored(), audit_count()
    lines = text.splitlines() + ["oops"]
    dry = run_import(world, lines, dry_run=True, batch_size=2)
    assert dry == {"imported": 5, "skipped": 1, "errors": [{"line": 6, "error": "not a JSON object"}]}
    assert stored() == before and audit_count() == events
    assert run_import(world, lines, batch_size=2) == dry


def test_errors_list_stops_at_100_but_skipped_counts_all(world):
    report = run_import(world, ["x"] * 150)
    assert report["skipped"] == 150 and len(report["errors"]) == 100


def test_cli_export_and_import_with_json(world, app, tmp_path):
    seed(world)
    runner = app.test_cli_runner()
    out = tmp_path / "shop.jsonl"
    result = runner.invoke(args=["metadata", "export", "--platform", "shop", "--output", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert text == export(world["platform"])
    wipe(world)
    out.write_text(text + "{}\n", encoding="utf-8")
    result = runner.invoke(args=["metadata", "import", "--platform", "shop", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {"imported": 5, "skipped": 1, "errors": [
        {"line": 6, "error": "type must be 'platform_document' or 'client_entry'"}]}
    assert export(world["platform"]) == text
    result = runner.invoke(args=["metadata", "export", "--platform", "nope"])
    assert result.exit_code == 1 and "No platform 'nope'" in result.output


def test_export_memory_stays_flat_however_many_entries(world):
    """Streaming proven by memory: 20 MB of entries export with a few MB at most in Python.

    A query that fetched every row first would hold all 20 MB of values at once.
    """
    import tracemalloc

    from sqlalchemy import insert

    rows = [{"user_id": world["alice"].id, "client_id": world["client"].id, "key": f"k{i:06}",
             "value": f"{i:06}" + "v" * 994, "version": 1} for i in range(20_000)]
    db.session.execute(insert(ClientMetadataEntry), rows)
    db.session.commit()
    del rows
    written = count = 0
    tracemalloc.start()
    try:
        for line in transfer.export_lines(world["platform"]):
            written += len(line)
            count += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000 and written > 20_000_000
    assert peak < 6_000_000, f"peak {peak} bytes while exporting {written} bytes"
