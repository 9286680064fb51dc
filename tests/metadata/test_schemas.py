"""Platform schemas in the domain: what may be set, that nothing is ever fetched, that a
schema change leaves documents alone, and that no process validates with a stale schema."""
from __future__ import annotations

import http.server
import threading

import pytest

from tests.factories import add_member, make_platform, make_user
from webapp.extensions import db
from webapp.metadata import platform as documents
from webapp.metadata import schemas
from webapp.metadata.audit import Actor
from webapp.metadata.platform_rules import DocumentValidationError
from webapp.models import AuditEvent, Platform, PlatformDocument

OPERATOR = Actor.system("cli", "tests")


@pytest.fixture
def acme(app):
    platform = make_platform("acme-corp")
    user = make_user("john_doe", password="")
    add_member(platform, user)
    return platform, user


def refused(schema) -> str:
    with pytest.raises(schemas.InvalidSchema) as caught:
        schemas.compile_schema(schema)
    return caught.value.message


@pytest.mark.parametrize("schema, words", [
    ([], "must be a JSON object"),
    ({"properties": {}}, 'top level must say "type": "object"'),
    ({"type": "array"}, 'top level must say "type": "object"'),
    ({"type": "object", "properties": {"a": {"type": "colour"}}},
     "not a valid draft 2020-12 schema: at /properties/a/type"),
    ({"type": "object", "minProperties": -1}, "at /minProperties"),
    ({"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"},
     "Only draft 2020-12 schemas"),
    ({"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
     "$ref '#/$defs/missing' at /properties/a/$ref does not resolve"),
    ({"type": "object", "properties": {"a": {"$ref": "other.json"}}}, "points outside"),
    ({"type": "object", "properties": {"a": {"$ref": "file:///etc/passwd"}}}, "points outside"),
    ({"type": "object", "$dynamicRef": "https://example.com/s"}, "points outside"),
])
def test_invalid_schemas_are_refused_with_the_problem_named(app, schema, words):
    assert words in refused(schema)


def test_a_schema_over_65536_bytes_is_refused(app):
    big = {"type": "object", "description": "x" * 65536}
    assert "exceeds 65536 bytes" in refused(big)
    fits = {"type": "object", "description": "x" * (65536 - 50)}
    schemas.compile_schema(fits)


def test_internal_references_anchors_and_nested_ids_resolve(app):
    compiled = schemas.compile_schema({
        "type": "object",
        "$defs": {"plan": {"$anchor": "plan", "enum": ["free", "pro"]},
                  "default": {"type": "string"}},
        "properties": {
            "plan": {"$ref": "#/$defs/plan", "readOnly": True},
            "also": {"$ref": "#plan"},
            "name": {"$ref": "#/$defs/default"},
            # A property named like a data keyword is still a schema.
            "enum": {"$ref": "#/$defs/default"},
        },
        "examples": [{"$ref": "https://example.com/not-a-reference"}],
    })
    assert compiled.protected == {"plan"}
    assert schemas.document_errors(compiled, {"plan": "gold", "enum": 1}) == [
        ("/enum", "1 is not of type 'string'"),
        ("/plan", "'gold' is not one of ['free', 'pro']"),
    ]


def test_format_checks_are_on(app):
    compiled = schemas.compile_schema({"type": "object", "properties": {
        "at": {"type": "string", "format": "date-time"},
        "mail": {"type": "string", "format": "email"},
        "ip": {"type": "string", "format": "ipv4"}}})
    assert [p for p, _ in schemas.document_errors(
        compiled, {"at": "yesterday", "mail": "nope", "ip": "999.1.1.1"})] == ["/at", "/ip", "/mail"]
    assert schemas.document_errors(
        compiled, {"at": "2026-01-02T03:04:05Z", "mail": "a@b.test", "ip": "10.0.0.1"}) == []


class _CountingHandler(http.server.BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        body = b'{"type": "string"}'
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def schema_server():
    """A real HTTP server that would serve a schema, and counts every request it gets."""
    _CountingHandler.hits = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _CountingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _CountingHandler.hits
    server.shutdown()
    server.server_close()


def test_a_remote_reference_is_refused_and_nothing_is_fetched(acme, schema_server):
    platform, user = acme
    base, hits = schema_server
    import urllib.request
    with urllib.request.urlopen(f"{base}/probe.json") as answer:  # the server does answer
        assert answer.status == 200
    hits.clear()
    for schema in (
        {"type": "object", "properties": {"a": {"$ref": f"{base}/a.json"}}},
        {"type": "object", "$id": f"{base}/root.json", "properties": {"a": {"$ref": "a.json"}}},
        {"type": "object", "$ref": f"{base}/b.json#/defs/x"},
    ):
        with pytest.raises(schemas.InvalidSchema) as caught:
            schemas.set_schema(OPERATOR, platform, schema)
        assert "points outside the schema" in caught.value.message
        db.session.rollback()
    assert hits == []
    assert schemas.get_schema(platform).schema is None


def test_the_validator_itself_refuses_to_retrieve(acme, schema_server):
    """Even a reference that got past the check would not be fetched."""
    base, hits = schema_server
    compiled = schemas.compile_schema({"type": "object"})
    from referencing.exceptions import Unresolvable
    with pytest.raises(Unresolvable):
        compiled.validator.evolve(schema={"$ref": f"{base}/c.json"}).validate("x")
    assert hits == []


def test_a_schema_change_never_alters_stored_documents(acme):
    platform, user = acme
    documents.replace_document(OPERATOR, user, platform, {"plan": 7, "x": "y"})
    db.session.commit()
    before = documents.get_document(user, platform)
    schemas.set_schema(OPERATOR, platform, {
        "type": "object", "required": ["language"], "additionalProperties": False,
        "properties": {"plan": {"type": "string", "readOnly": True, "default": "free"}}})
    schemas.set_schema(OPERATOR, platform, None)
    db.session.commit()
    after = documents.get_document(user, platform)
    assert (after.data, after.version, after.updated_at) == (
        before.data, before.version, before.updated_at)


def test_schema_changes_are_audited_with_old_and_new(acme):
    platform, _ = acme
    first = {"type": "object"}
    second = {"type": "object", "properties": {"plan": {"readOnly": True}}}
    schemas.set_schema(OPERATOR, platform, first)
    schemas.set_schema(OPERATOR, platform, second)
    schemas.set_schema(OPERATOR, platform, None)
    db.session.commit()
    changes = [e.changes for e in db.session.scalars(
        db.select(AuditEvent).where(AuditEvent.action == "platform.schema")
        .order_by(AuditEvent.id))]
    assert changes == [{"schema": {"new": first}},
                       {"schema": {"old": first, "new": second}},
                       {"schema": {"old": second}}]


def test_an_invalid_schema_changes_nothing(acme):
    platform, _ = acme
    schemas.set_schema(OPERATOR, platform, {"type": "object"})
    db.session.commit()
    with pytest.raises(schemas.InvalidSchema):
        schemas.set_schema(OPERATOR, platform, {"type": "string"})
    db.session.rollback()
    assert schemas.get_schema(platform).schema == {"type": "object"}


def test_a_schema_replaced_by_another_process_is_never_served_stale(acme, make_app):
    """This process compiled schema A; another process stores B. The next write here reads
    B's hash with the platform and validates against B."""
    platform, user = acme
    schemas.set_schema(OPERATOR, platform, {"type": "object",
                                            "properties": {"n": {"type": "integer"}}})
    db.session.commit()
    documents.patch_document(OPERATOR, user, platform, {"n": 1})
    db.session.commit()
    platform_id = platform.id
    db.session.rollback()  # no transaction of ours open while the other process writes
    other = make_app()
    with other.app_context():
        other_platform = db.session.get(Platform, platform_id)
        schemas.set_schema(OPERATOR, other_platform, {
            "type": "object", "properties": {"n": {"type": "string"}}})
        db.session.commit()
    db.session.expire_all()
    fresh = Platform.by_key("acme-corp")
    with pytest.raises(DocumentValidationError) as caught:
        documents.patch_document(OPERATOR, user, fresh, {"n": 2})
    assert caught.value.errors == {"metadata": ["/n: 2 is not of type 'string'"]}
    db.session.rollback()
    documents.patch_document(OPERATOR, user, fresh, {"n": "two"})
    db.session.commit()


def test_a_platform_without_a_schema_is_free_form(acme):
    platform, user = acme
    documents.replace_document(OPERATOR, user, platform, {"anything": [1, {"goes": None}]})
    db.session.commit()
    assert schemas.for_platform(platform) is None
    assert schemas.protected_keys(platform) == frozenset()


def test_impact_counts_failing_documents_with_twenty_examples(acme):
    platform, _ = acme
    for number in range(25):
        user = make_user(f"user{number:02d}", password="")
        add_member(platform, user)
        documents.replace_document(OPERATOR, user, platform,
                                   {"plan": number} if number % 2 else {"plan": "ok"})
    db.session.commit()
    before = {row.id: row.version for row in db.session.scalars(db.select(PlatformDocument))}
    result = schemas.impact(platform, {"type": "object",
                                       "properties": {"plan": {"type": "string"}}})
    assert (result.checked, result.failing) == (25, 12)
    assert len(result.examples) == 12
    assert result.examples[0] == schemas.Failure("user01", "/plan", "1 is not of type 'string'")
    many = schemas.impact(platform, {"type": "object", "required": ["a", "b"]})
    assert (many.failing, len(many.examples)) == (25, 20)
    assert {row.id: row.version for row in db.session.scalars(
        db.select(PlatformDocument))} == before


def test_operators_may_change_protected_keys(acme):
    platform, user = acme
    schemas.set_schema(OPERATOR, platform, {"type": "object", "properties": {
        "plan": {"type": "string", "readOnly": True}}})
    db.session.commit()
    documents.patch_document(OPERATOR, user, platform, {"plan": "pro"})
    db.session.commit()
    member = Actor(via="api:platform", user=user)
    with pytest.raises(schemas.ProtectedKeysChanged):
        documents.patch_document(member, user, platform, delete_keys=["plan"])
    db.session.rollback()
    assert documents.get_document(user, platform).data == {"plan": "pro"}


LOCAL = {
    "type": "object", "required": ["a"], "maxProperties": 4,
    "properties": {"a": {"type": "integer", "minimum": 0}, "b": {"$ref": "#/$defs/short"},
                   "plan": {"enum": ["free", "pro"], "readOnly": True}},
    "patternProperties": {"^x-": {"type": "boolean"}},
    "additionalProperties": {"type": "string", "format": "email"},
    "propertyNames": {"maxLength": 5},
    "$defs": {"short": {"type": "string", "maxLength": 3}},
}
DOCUMENTS = [
    {}, {"a": 1}, {"a": -1}, {"a": 1.0}, {"a": 1.5}, {"a": True}, {"a": 1, "b": "abc"},
    {"a": 1, "b": "abcd"}, {"a": 1, "x-1": True}, {"a": 1, "x-1": 1}, {"a": 1, "m": "a@b.test"},
    {"a": 1, "m": "nope"}, {"a": 1, "long1": "a@b.test"}, {"a": 1, "plan": "gold"},
    {"a": 1, "b": "a", "x-1": True, "m": "a@b.test"},
    {"a": 1, "b": "a", "x-1": True, "m": "a@b.test", "n": "c@d.test"},
]


@pytest.mark.parametrize("document", DOCUMENTS)
def test_the_key_by_key_verdict_is_the_whole_documents(app, document):
    """Fresh and remembered, the fast verdict always agrees with full validation."""
    compiled = schemas.compile_schema(LOCAL)
    assert compiled.keywise is not None
    for _ in range(2):
        for other in DOCUMENTS:  # every pair seen (and remembered where valid) first
            compiled.is_valid(other)
        assert compiled.is_valid(document) == compiled.validator.is_valid(document)


@pytest.mark.parametrize("schema", [
    {"type": "object", "allOf": [{"required": ["a"]}]},
    {"type": "object", "dependentRequired": {"a": ["b"]}},
    {"type": "object", "unevaluatedProperties": False},
    {"type": "object", "properties": {"a": {"$ref": "#"}}},
    {"type": "object", "$anchor": "root", "properties": {"a": {"$ref": "#root"}}},
    {"type": "object", "properties": {"a": {"$ref": "#/required"}}, "required": []},
])
def test_schemas_that_relate_keys_are_always_validated_whole(app, schema):
    assert schemas.compile_schema(schema).keywise is None


def test_a_remembered_valid_pair_does_not_outlive_its_schema(acme):
    platform, user = acme
    schemas.set_schema(OPERATOR, platform, {"type": "object",
                                            "properties": {"n": {"maximum": 5}}})
    documents.patch_document(OPERATOR, user, platform, {"n": 5})
    schemas.set_schema(OPERATOR, platform, {"type": "object",
                                            "properties": {"n": {"maximum": 4}}})
    with pytest.raises(schemas.SchemaViolation) as caught:
        documents.patch_document(OPERATOR, user, platform, {"m": 1})
    assert caught.value.problems == ["/n: 5 is greater than the maximum of 4"]
