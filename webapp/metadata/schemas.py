"""Platform JSON Schemas and protected keys (CONTRACT section 8).

A platform may declare a JSON Schema (draft 2020-12) for its documents. Its top-level
properties marked `"readOnly": true` are protected keys: only the tenant (admins through
the API, staff in the dashboard, operators through the CLI or an import) may change them.
Every write of a document passes `check_write` after the document rules of
webapp.metadata.platform: check 7 (protected keys, 403) and then check 8 (the document as
it would be stored validates, 400).

Compiling a schema (building a jsonschema validator, crawling its `$ref`s) costs far more
than validating a small document, so a compiled schema is kept per process under the
platform's id and the schema's content hash. The hash is a column of the platform row and
is read with it, so a write on a platform without a schema asks nothing more of the
database, and a process never uses a schema another process has since replaced: the hash
it reads names the content, and a new schema has a new hash.

`$ref` may point only inside the schema: references to anything else are refused when the
schema is set, and the validator's registry refuses to retrieve any resource, so nothing is
ever fetched from a network or a file.
"""
from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import urljoin

from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource, Unresolvable
from referencing.jsonschema import DRAFT202012
from sqlalchemy import select

from webapp import access
from webapp.extensions import db
from webapp.metadata import audit
from webapp.metadata.calls import PlatformRef, UserRef
from webapp.metadata.errors import PermissionDenied, ValidationError
from webapp.metadata.platform_rules import DocumentValidationError
from webapp.models import Platform, PlatformDocument, User
from webapp.timeutil import utcnow

if TYPE_CHECKING:  # jsonschema is imported when a schema is first compiled (see compile_schema)
    from jsonschema import Draft202012Validator

    from webapp.metadata.schema_keys import KeywiseValidator

ACTION_SET_SCHEMA: Final = "platform.schema"
MAX_SCHEMA_BYTES: Final = 65536
MAX_ERRORS: Final = 20
PROTECTED_MESSAGE: Final = "Only tenant admins can change protected keys"
DRAFT_2020_12: Final = "https://json-schema.org/draft/2020-12/schema"
_CACHE_SIZE = 256


class ProtectedKeysChanged(PermissionDenied):
    """Check 7: a member's write would change protected keys; `keys` sorted."""

    def __init__(self, keys: list[str]):
        super().__init__(PROTECTED_MESSAGE)
        self.keys = keys


class InvalidSchema(ValidationError):
    """A schema that may not be set; the message names the problem."""

    def __init__(self, message: str):
        super().__init__({"schema": [message]})


class SchemaViolation(DocumentValidationError):
    """Check 8: the document as it would be stored does not validate; `problems` are the
    `<JSON pointer>: <message>` lines of the 400, sorted by pointer, at most 20."""

    def __init__(self, problems: list[str]):
        super().__init__({"metadata": problems})
        self.problems = problems


@dataclass(frozen=True)
class CompiledSchema:
    """A checked schema, ready to validate documents; built once per schema content."""

    schema: dict[str, Any]
    validator: Draft202012Validator
    protected: frozenset[str]
    digest: str
    # The fast verdict for schemas whose keys can be judged one by one (schema_keys).
    keywise: KeywiseValidator | None = None

    def is_valid(self, document: dict[str, Any]) -> bool:
        if self.keywise is not None:
            return self.keywise.is_valid(document)
        return self.validator.is_valid(document)


# --- compiling ---------------------------------------------------------------------------


def _refuse_retrieval(uri: str):
    """The registry's only way to fetch a resource: it never does."""
    # referencing's attrs classes are opaque to mypy (its own `frozen` wrapper): a typing gap.
    raise NoSuchResource(ref=uri)  # type: ignore[call-arg]


def schema_hash(schema: dict[str, Any]) -> str:
    return hashlib.sha256(_canonical(schema).encode("utf-8")).hexdigest()


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def compile_schema(schema: Any) -> CompiledSchema:
    """Check a schema against CONTRACT section 8 and build its validator, or InvalidSchema.

    jsonschema is imported here, not with the module: with its format checkers it takes a
    good part of a second to import, which no process should pay before it meets a schema.
    """
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match

    from webapp.metadata import schema_keys

    if not isinstance(schema, dict):
        raise InvalidSchema("The schema must be a JSON object.")
    try:
        size = len(json.dumps(schema, separators=(",", ":"), ensure_ascii=False,
                              allow_nan=False).encode("utf-8"))
    except (TypeError, ValueError):
        raise InvalidSchema("The schema must be valid JSON (no NaN or Infinity).") from None
    if size > MAX_SCHEMA_BYTES:
        raise InvalidSchema(f"The schema exceeds {MAX_SCHEMA_BYTES} bytes ({size} bytes).")
    declared = schema.get("$schema")
    if declared is not None and str(declared).rstrip("#") != DRAFT_2020_12:
        raise InvalidSchema(f"Only draft 2020-12 schemas are accepted ($schema is {declared!r}; "
                            f"use {DRAFT_2020_12!r} or leave it out).")
    problem = best_match(Draft202012Validator(Draft202012Validator.META_SCHEMA).iter_errors(schema))
    if problem is not None:
        where = pointer(problem.absolute_path) or "the top level"
        raise InvalidSchema(f"This is not a valid draft 2020-12 schema: at {where}: "
                            f"{problem.message}")
    if schema.get("type") != "object":
        raise InvalidSchema('The schema\'s top level must say "type": "object".')
    resource = Resource.from_contents(schema, default_specification=DRAFT202012)
    registry = Registry(retrieve=_refuse_retrieval).with_resource(  # type: ignore[call-arg]
        resource.id() or "", resource)  # (referencing's attrs classes: see _refuse_retrieval)
    _check_references(schema, registry.crawl(), resource.id() or "")
    validator = Draft202012Validator(
        schema, registry=registry, format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    digest = schema_hash(schema)
    references = [ref for _, _, ref in _references(schema, "", "")]
    return CompiledSchema(schema=schema, validator=validator,
                          protected=frozenset(_protected_keys(schema)), digest=digest,
                          keywise=schema_keys.keywise(schema, registry, digest, references))


def _check_references(schema: dict[str, Any], registry: Registry, root: str) -> None:
    """Every `$ref` and `$dynamicRef` starts with `#` and resolves inside the schema."""
    for where, base, ref in _references(schema, root, ""):
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise InvalidSchema(f"$ref {ref!r} at {where or 'the top level'} points outside the "
                                "schema; only references inside it (starting with '#') are "
                                "allowed, and nothing is ever fetched.")
        try:
            registry.resolver(base).lookup(ref)
        except Unresolvable:
            raise InvalidSchema(f"$ref {ref!r} at {where or 'the top level'} does not resolve "
                                "inside the schema.") from None


# Keywords whose values are data, not schemas (a "$ref" inside them is not a reference),
# and those whose values map names to schemas (their keys are names, not keywords).
_DATA_KEYWORDS = frozenset({"const", "enum", "default", "examples"})
_NAME_MAPS = frozenset({"properties", "patternProperties", "$defs", "definitions",
                        "dependentSchemas"})


def _references(node: Any, base: str, where: str,
                names: bool = False) -> Iterator[tuple[str, str, Any]]:
    if isinstance(node, dict):
        if not names and isinstance(node.get("$id"), str):
            base = urljoin(base, node["$id"]) if base else node["$id"]
        for name, child in node.items():
            path = f"{where}/{_escape(name)}"
            if names:
                yield from _references(child, base, path)
            elif name in ("$ref", "$dynamicRef"):
                yield path, base, child
            elif name not in _DATA_KEYWORDS:
                yield from _references(child, base, path, names=name in _NAME_MAPS)
    elif isinstance(node, list):
        for index, child in enumerate(node):
            yield from _references(child, base, f"{where}/{index}")


def _protected_keys(schema: dict[str, Any]) -> list[str]:
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return []
    return [key for key, sub in properties.items()
            if isinstance(sub, dict) and sub.get("readOnly") is True]


# --- the compiled schema of a platform, cached -------------------------------------------

_cache: OrderedDict[tuple[int, str], CompiledSchema] = OrderedDict()
_cache_lock = threading.Lock()


def for_platform(platform: Platform | PlatformRef) -> CompiledSchema | None:
    """The platform's compiled schema, or None; compiled once per content, per process.

    Keyed by the hash read with the platform row: no query at all without a schema, one
    the first time a process meets a schema, none after.
    """
    digest = platform.schema_hash
    if digest is None:
        return None
    key = (platform.id, digest)
    with _cache_lock:
        compiled = _cache.get(key)
        if compiled is not None:
            _cache.move_to_end(key)
            return compiled
    row = db.session.execute(
        select(Platform.document_schema, Platform.schema_hash).where(Platform.id == platform.id)
    ).one_or_none()
    if row is None or row.document_schema is None:
        return None
    compiled = compile_schema(row.document_schema)
    with _cache_lock:  # under the hash that was stored with it: it may be newer than ours
        _cache[(platform.id, row.schema_hash)] = compiled
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return compiled


def protected_keys(platform: Platform) -> frozenset[str]:
    compiled = for_platform(platform)
    return compiled.protected if compiled is not None else frozenset()


# --- checks 7 and 8 ----------------------------------------------------------------------


def check_write(actor: audit.Actor, user: User | UserRef, platform: Platform | PlatformRef,
                old: dict[str, Any], new: dict[str, Any]) -> None:
    """CONTRACT section 8, checks 7 and 8, on a write that would turn `old` into `new`.

    Raises ProtectedKeysChanged or DocumentValidationError; returns at once when the
    platform has no schema. Who may change protected keys is only asked when some would
    change, so ordinary writes pay nothing for it.
    """
    compiled = for_platform(platform)
    if compiled is None:
        return
    changed = sorted(key for key in compiled.protected
                     if key in old or key in new
                     if key not in old or key not in new or _canonical(old[key]) != _canonical(new[key]))
    if changed and not _may_change_protected(actor, platform):
        raise ProtectedKeysChanged(changed)
    if compiled.is_valid(new):
        return
    errors = document_errors(compiled, new)
    if errors:
        raise SchemaViolation([f"{where}: {message}" for where, message in errors])


def _may_change_protected(actor: audit.Actor, platform: Platform | PlatformRef) -> bool:
    if actor.user is None:  # operators: the CLI, an import, a job
        return True
    if actor.admin_rights is not None:
        return actor.admin_rights
    # Only the APIs act with a bare UserRef, and they always decide admin_rights first.
    assert isinstance(actor.user, User), "an actor without a User must carry admin_rights"
    return access.may_change_protected_keys(actor.user, platform,
                                            via_dashboard=actor.via == "dashboard")


def document_errors(compiled: CompiledSchema, document: Any,
                    limit: int = MAX_ERRORS) -> list[tuple[str, str]]:
    """(JSON pointer, message) of each way the document fails, sorted by pointer, at most `limit`."""
    found = sorted((pointer(error.absolute_path), error.message)
                   for error in compiled.validator.iter_errors(document))
    return found[:limit]


def pointer(path) -> str:
    """RFC 6901 JSON Pointer of a path; the whole document is the empty pointer."""
    return "".join(f"/{_escape(str(part))}" for part in path)


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


# --- reading and setting a platform's schema ----------------------------------------------


@dataclass(frozen=True)
class SchemaView:
    schema: dict[str, Any] | None
    updated_at: datetime | None


def get_schema(platform: Platform | PlatformRef) -> SchemaView:
    row = db.session.execute(
        select(Platform.document_schema, Platform.schema_updated_at)
        .where(Platform.id == platform.id)
    ).one()
    return SchemaView(row.document_schema, row.schema_updated_at)


def set_schema(actor: audit.Actor, platform: Platform, schema: Any | None) -> SchemaView:
    """Set (or, with None, remove) the platform's schema; audited with the old and new one.

    Stored documents are never changed: a document that fails the new schema stays as it
    is, and its next write must make it valid (see `impact` to know which ones before).
    """
    if schema is not None:
        compile_schema(schema)
    old = get_schema(platform).schema
    now = utcnow()
    platform.document_schema = schema
    platform.schema_hash = schema_hash(schema) if schema is not None else None
    platform.schema_updated_at = now
    change: dict[str, Any] = {}
    if old is not None:
        change["old"] = old
    if schema is not None:
        change["new"] = schema
    audit.record(actor, ACTION_SET_SCHEMA, platform_id=platform.id,
                 changes={"schema": change} if change else {})
    db.session.flush()
    return SchemaView(schema, now)


@dataclass(frozen=True)
class Failure:
    username: str
    pointer: str
    message: str


@dataclass(frozen=True)
class Impact:
    """How many stored documents a schema would reject, with a few examples."""

    checked: int
    failing: int
    examples: list[Failure]


def impact(platform: Platform, schema: Any, limit: int = MAX_ERRORS) -> Impact:
    """Validate every stored document of the platform against a candidate schema.

    Reads in batches, so a large platform is not held in memory at once; writes nothing.
    """
    compiled = compile_schema(schema)
    query = (
        select(User.username, PlatformDocument.data)
        .join(User, User.id == PlatformDocument.user_id)
        .where(PlatformDocument.platform_id == platform.id)
        .order_by(User.username)
        .execution_options(yield_per=500)
    )
    checked = failing = 0
    examples: list[Failure] = []
    for username, data in db.session.execute(query):
        checked += 1
        errors = document_errors(compiled, data or {}, limit=limit)
        if errors:
            failing += 1
            for where, message in errors:
                if len(examples) < limit:
                    examples.append(Failure(username, where, message))
    return Impact(checked, failing, examples)
