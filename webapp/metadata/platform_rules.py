"""The rules a platform document's request fields and stored form must keep, and the
errors they give, in Django REST framework's words (webapp.metadata.platform applies them)."""
from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any, Final

from flask import current_app

from webapp.metadata.errors import MetadataError, ValidationError

NEITHER_FIELD = "Provide 'metadata' to update or 'delete_keys' to remove keys."
REQUIRED = "This field is required."
NOT_NULL = "This field may not be null."
NOT_A_STRING = "Not a valid string."


class _NotGiven:
    """Marks a field the request did not send, distinct from one sent as JSON null."""

    _instance: "_NotGiven | None" = None

    def __new__(cls) -> "_NotGiven":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "NOT_GIVEN"

    def __bool__(self) -> bool:
        return False


NOT_GIVEN: Final = _NotGiven()


class DocumentValidationError(ValidationError):
    """A ValidationError whose messages may be nested per list item, as DRF reports them.

    `{"delete_keys": {"0": ["Not a valid string."]}}` cannot go through the base class,
    which expects a flat list per field.
    """

    def __init__(self, errors: dict[str, Any]):
        self.errors = errors
        MetadataError.__init__(self, _first_message(errors))


def _first_message(errors: Any) -> str:
    while isinstance(errors, (dict, list)) and errors:
        errors = next(iter(errors.values())) if isinstance(errors, dict) else errors[0]
    return str(errors)


def check_object(errors: dict, name: str, value: Any, *, required: bool) -> None:
    if value is NOT_GIVEN:
        if required:
            errors[name] = [REQUIRED]
    elif value is None:
        errors[name] = [NOT_NULL]
    elif not isinstance(value, Mapping):
        errors[name] = [f'Expected a dictionary of items but got type "{_type_name(value)}".']


def check_key_list(errors: dict, name: str, value: Any) -> None:
    if value is NOT_GIVEN:
        return
    if value is None:
        errors[name] = [NOT_NULL]
        return
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, (list, tuple)):
        errors[name] = [f'Expected a list of items but got type "{_type_name(value)}".']
        return
    items: dict[str, list[str]] = {}
    for index, item in enumerate(value):
        if item is None:
            items[str(index)] = [NOT_NULL]
        elif not isinstance(item, str):
            items[str(index)] = [NOT_A_STRING]
    if items:
        errors[name] = items


def _type_name(value: Any) -> str:
    """The Python type name DRF reports; tuples are lists here, as in JSON."""
    if isinstance(value, tuple):
        return "list"
    return type(value).__name__


def check_stored(document: dict[str, Any]) -> None:
    """The limits on the document as it would be stored: nesting, characters, size."""
    max_depth = current_app.config["PLATFORM_METADATA_MAX_DEPTH"]
    max_bytes = current_app.config["PLATFORM_METADATA_MAX_BYTES"]
    problem = _walk(document, max_depth)
    if problem:
        raise DocumentValidationError({"metadata": [problem]})
    try:
        encoded = json.dumps(document, separators=(",", ":"), ensure_ascii=False,
                             allow_nan=False).encode("utf-8")
    except UnicodeEncodeError:
        raise DocumentValidationError(
            {"metadata": ["Metadata may not contain unpaired surrogate characters."]}
        ) from None
    except (TypeError, ValueError):
        raise DocumentValidationError(
            {"metadata": ["Metadata must be valid JSON (no NaN or Infinity)."]}
        ) from None
    if len(encoded) + _numeric_growth(document) > max_bytes:
        raise DocumentValidationError({"metadata": [f"Metadata exceeds {max_bytes} bytes."]})


def _numeric_growth(document: Any) -> int:
    """How many bytes longer the document's floats are as PostgreSQL gives them back.

    JSONB keeps numbers as `numeric` and writes them out in full: `1e300` (6 bytes here)
    comes back as 301 digits. Counting that growth keeps the limit honest on every engine,
    so no stored document reads back larger than the limit (and then refuses every PATCH).
    """
    growth = 0
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, Mapping):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, float):
            short = repr(value)
            growth += max(0, len(format(Decimal(short), "f")) - len(short))
    return growth


def _walk(document: Any, max_depth: int) -> str | None:
    """The first reason the document cannot be stored, found without recursion.

    Depth counts containers: `{}` is 1 level, `{"a": {}}` is 2. NUL characters are
    refused because PostgreSQL's JSONB cannot hold them; refusing them everywhere keeps
    SQLite and PostgreSQL alike.
    """
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            children: Iterable[Any] = value.values()
            for key in value:
                if not isinstance(key, str):
                    return "Metadata keys must be strings."
                if "\x00" in key:
                    return "Metadata may not contain the NUL character (\\u0000)."
        elif isinstance(value, (list, tuple)):
            children = value
        else:
            if isinstance(value, str) and "\x00" in value:
                return "Metadata may not contain the NUL character (\\u0000)."
            if value is not None and not isinstance(value, (str, int, float, bool)):
                return "Metadata must be valid JSON."
            continue
        if depth > max_depth:
            return f"Metadata exceeds {max_depth} levels of nesting."
        stack.extend((child, depth + 1) for child in children)
    return None
