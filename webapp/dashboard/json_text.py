"""The JSON editor's text as a document, with messages an admin can act on."""
from __future__ import annotations

import json
from typing import Any


def parse_json_text(text: str) -> dict[str, Any]:
    """The editor's text as a JSON object, or ValueError with a message an admin can act on.

    The messages are the editor's own (static/js/json-editor.js), so an admin reads the same
    words with JavaScript or without; the domain's (webapp.metadata.platform) are worded for
    API clients. Whether the object may be stored (its size and depth) is the domain's call.
    """
    if not text.strip():
        raise ValueError("The document is empty. Enter a JSON object, such as {}.")
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"This is not valid JSON: {error.msg} (line {error.lineno}, column {error.colno})."
        ) from None
    except _RefusedConstant as error:
        raise ValueError(str(error)) from None
    except RecursionError:
        raise ValueError("The document is nested too deeply.") from None
    except ValueError:
        # Python's own limits, such as a number of more than 4300 digits; its message
        # speaks of interpreter settings, not of the document.
        raise ValueError("This JSON cannot be stored: a number in it has too many digits, "
                         "or a value is too large to read.") from None
    if not isinstance(document, dict):
        raise ValueError(f"The document must be a JSON object ({{ … }}), not {_kind(document)}.")
    return document


def _kind(value: Any) -> str:
    """What a JSON value is, in the editor's words."""
    if value is None:
        return "null"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a string"
    return "a number"


class _RefusedConstant(ValueError):
    pass


def _refuse_constant(name: str):
    raise _RefusedConstant(f"This is not valid JSON: {name} is not a JSON value.")
