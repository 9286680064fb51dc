"""Who is acting, and the append-only record of what they changed."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import g, has_request_context

from webapp.extensions import db
from webapp.models import AuditEvent, User

# Marks "this key did not exist" in a change, distinct from a stored null.
ABSENT = object()


@dataclass(frozen=True)
class Actor:
    """The acting party of a write, passed down from the view, command or job."""

    via: str  # "api:per-client", "api:platform", "dashboard", "cli", "job"
    user: User | None = None
    api_token_id: int | None = None
    oauth_client_id: int | None = None
    label: str | None = None

    @property
    def display(self) -> str:
        if self.label:
            return self.label
        return self.user.username if self.user is not None else self.via

    @classmethod
    def system(cls, via: str, label: str) -> "Actor":
        return cls(via=via, label=label)


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The top-level keys that differ between two documents, with old and new values.

    A side is left out where the key did not exist, so "set to null" and "removed" differ.
    """
    changes: dict[str, dict[str, Any]] = {}
    for key in sorted(set(old) | set(new)):
        before = old.get(key, ABSENT)
        after = new.get(key, ABSENT)
        if before is ABSENT or after is ABSENT or before != after:
            change: dict[str, Any] = {}
            if before is not ABSENT:
                change["old"] = before
            if after is not ABSENT:
                change["new"] = after
            changes[key] = change
    return changes


def record(
    actor: Actor,
    action: str,
    *,
    target_user: User | None = None,
    platform_id: int | None = None,
    oauth_client_id: int | None = None,
    changes: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit event in the caller's transaction, so it commits with the write or not at all."""
    event = AuditEvent(
        actor_user_id=actor.user.id if actor.user is not None else None,
        actor_label=actor.display,
        via=actor.via,
        api_token_id=actor.api_token_id,
        oauth_client_id=oauth_client_id if oauth_client_id is not None else actor.oauth_client_id,
        action=action,
        target_user_id=target_user.id if target_user is not None else None,
        target_label=target_user.username if target_user is not None else None,
        platform_id=platform_id,
        changes=changes or {},
        request_id=g.get("request_id") if has_request_context() else None,
    )
    db.session.add(event)
    return event
