"""Template filters for the dashboard pages: times in UTC, JSON and long values as readable text.

Everything here returns plain strings (or lists of them); Jinja's autoescaping turns them
into text, so stored values are shown, never interpreted as markup.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from webapp.dashboard import bp
from webapp.timeutil import iso_z


@bp.app_template_filter("utc_iso")
def utc_iso(value: datetime | None) -> str:
    return iso_z(value) or ""


@bp.app_template_filter("utc_human")
def utc_human(value: datetime | None) -> str:
    """`2026-05-01 14:03 UTC`: minutes are enough for people; the ISO form sits in `datetime`."""
    if value is None:
        return "—"
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M UTC")


@bp.app_template_filter("utc_input")
def utc_input(value: datetime | None) -> str:
    """`2026-05-01 14:03:09`: a UTC time as the expiry field shows it, 24-hour, to the second.

    A text field rather than `<input type=datetime-local>`, whose clock follows the
    browser's locale (AM/PM in many) beside a label that says UTC.
    """
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%d %H:%M:%S")


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@bp.app_template_filter("compact_json")
def compact_json(value: Any) -> str:
    """One-line JSON for audit values, cut short so one long value cannot swamp the page."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= 300 else text[:299] + "…"


# A per-client value may be 65535 characters and a client may keep 1000 of them: the list
# shows the start of each, the Edit form the whole value.
VALUE_PREVIEW_CHARS = 200


@bp.app_template_filter("preview")
def preview(text: str, limit: int = VALUE_PREVIEW_CHARS) -> str:
    """The first `limit` characters and "…", or the text itself when it is that short."""
    return text if len(text) <= limit else text[:limit] + "…"


@bp.app_template_filter("thousands")
def thousands(number: int) -> str:
    return f"{number:,}"


@bp.app_template_filter("byte_size")
def byte_size(count: int | None) -> str:
    """`1 MiB`, `64 KiB`, `900 bytes`: a configured limit as people read it."""
    if not count:
        return "limit"
    for unit, size in (("MiB", 1024 * 1024), ("KiB", 1024)):
        if count >= size and count % size == 0:
            return f"{count // size} {unit}"
    return f"{count:,} bytes"


# Runs shorter than this (keys, dates, numbers, short strings) stay on one line; browsers
# would otherwise break `"2099-01-02T03:04:05Z"` after a hyphen. Longer ones (URIs, tokens,
# base64) may break anywhere rather than overflow their cell.
SHORT_RUN = 40
_RUNS = re.compile(r"\s+|\S+")


@bp.app_template_filter("runs")
def runs(text: str) -> list[tuple[str, str]]:
    """The text as (kind, piece) runs, kind "space", "short" or "long"; joined, the pieces are the text."""
    result = []
    for match in _RUNS.finditer(text):
        piece = match.group()
        kind = "space" if piece.isspace() else "short" if len(piece) <= SHORT_RUN else "long"
        result.append((kind, piece))
    return result


@bp.app_template_filter("wrap_class")
def wrap_class(text: str) -> str:
    """How an identifier (username, key, email) wraps: whole when short, anywhere when long."""
    return "ident" if len(text) <= SHORT_RUN else "ident-long"


# After a slash, "?" or "&" (not between the two slashes of "https://", nor right after them).
_URL_BREAKS = re.compile(r"(?<=[/?&])(?<!//)(?<!:/)(?!/)")


@bp.app_template_filter("url_parts")
def url_parts(uri: str) -> list[str]:
    """The URI cut where a line may break sensibly: after each path slash, "?" and "&"."""
    return [part for part in _URL_BREAKS.split(uri) if part]
