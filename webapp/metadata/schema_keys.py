"""Deciding whether a document fits its schema key by key, remembering what was valid.

jsonschema spends tens of microseconds on every property it descends into, so checking a
50-key document takes about a millisecond: more than the rest of a PATCH's own work. A
PATCH changes a few keys; the others were checked at the document's previous write. When a
schema's top level holds only keywords that judge each key on its own (`properties`,
`patternProperties`, `additionalProperties`, `propertyNames`) beside those that judge the
set of keys (`type`, `required`, `minProperties`, `maxProperties`) and annotations, a
document is valid exactly when its key set passes and every (key, value) pair passes alone.
A pair found valid is remembered under the schema's content hash, so the unchanged keys of
the next write cost one dictionary lookup.

Only the verdict comes from here. The messages of a document that fails come from the
whole-document validator (webapp.metadata.schemas.document_errors), so they read the same
whichever way the verdict was reached. Any other top-level keyword (`allOf`, `if`,
`dependentRequired`, `unevaluatedProperties`, a `$ref` to the root ...) can relate keys to
each other: such schemas are always validated whole.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from jsonschema import Draft202012Validator
from referencing import Registry

KEY_SET: Final = frozenset({"type", "required", "minProperties", "maxProperties"})
PER_KEY: Final = frozenset({"properties", "patternProperties", "additionalProperties",
                            "propertyNames"})
ANNOTATIONS: Final = frozenset({"$schema", "$id", "$defs", "definitions", "$comment", "title",
                                "description", "default", "examples", "readOnly", "writeOnly",
                                "deprecated"})
# Bounds on what is remembered, for all schemas of the process together.
MAX_REMEMBERED: Final = 16384
MAX_VALUE_CHARS: Final = 1024

_remembered: dict[tuple[str, str, str], bool] = {}


@dataclass(frozen=True)
class KeywiseValidator:
    key_set: Draft202012Validator
    per_key: Draft202012Validator
    digest: str

    def is_valid(self, document: dict[str, Any]) -> bool:
        if not self.key_set.is_valid(document):
            return False
        for key, value in document.items():
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
            memo = (self.digest, key, text) if len(text) <= MAX_VALUE_CHARS else None
            if memo is not None and memo in _remembered:
                continue
            if not self.per_key.is_valid({key: value}):
                return False
            if memo is not None:
                if len(_remembered) >= MAX_REMEMBERED:
                    _remembered.clear()
                _remembered[memo] = True
        return True


def keywise(schema: dict[str, Any], registry: Registry, digest: str,
            references: Iterable[Any]) -> KeywiseValidator | None:
    """The key-by-key validator of a schema that allows one (see above), else None.

    `references` are the schema's `$ref` values: one to the root (`#`) or into a
    key-set keyword would see a schema without those keywords, so it rules this out.
    """
    if not set(schema) <= KEY_SET | PER_KEY | ANNOTATIONS:
        return None
    for ref in references:
        if not isinstance(ref, str) or not ref.startswith("#/") or ref.split("/")[1] in KEY_SET:
            return None
    key_set = {name: value for name, value in schema.items() if name in KEY_SET}
    per_key = {name: value for name, value in schema.items() if name not in KEY_SET}
    checker = Draft202012Validator.FORMAT_CHECKER
    return KeywiseValidator(
        key_set=Draft202012Validator(key_set, registry=registry, format_checker=checker),
        per_key=Draft202012Validator(per_key, registry=registry, format_checker=checker),
        digest=digest,
    )
