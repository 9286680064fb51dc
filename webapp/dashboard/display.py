"""Template filters for the dashboard pages: times in UTC and JSON as readable text.

Everything here returns plain strings; Jinja's autoescaping turns them into text, so stored
values are shown, never interpreted as markup.
"""
from __future__ import annotations

import json
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


@bp.app_template_filter("datetime_local")
def datetime_local(value: datetime | None) -> str:
    """The value of an `<input type=datetime-local step=1>` holding a UTC time, to the second."""
    if value is None:
        return ""
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S")


@bp.app_template_filter("pretty_json")
def pretty_json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False)


@bp.app_template_filter("compact_json")
def compact_json(value: Any) -> str:
    """One-line JSON for audit values, cut short so one long value cannot swamp the page."""
    text = json.dumps(value, ensure_ascii=False, separators=(", ", ": "))
    return text if len(text) <= 300 else text[:299] + "…"
