"""Post/redirect/get for refused forms: what was typed, and why it was refused, kept for a while.

A refused form used to be answered at its POST address, so a reload resent it or (opened
again from the address bar) answered 405. Now the refusal is kept in Redis under a random
name for DRAFT_SECONDS, and the browser is sent to the page's own GET address with
`?draft=<name>`: the page shows the form as it was sent, with its messages, and a reload
shows the same. The text may be a 64 KiB document, too large for the session cookie, and
may hold what an admin would not want in a cookie; the draft is bound to the user who made
it, so a shared link shows nobody else what was typed.

Without Redis the refusal is answered in place, as before: a refused form never fails
because the draft could not be kept.
"""
from __future__ import annotations

import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import current_app, redirect, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm

from webapp.jobs.queue import REDIS_DOWN, key, redis_connection

DRAFT_SECONDS = 3600
_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class Draft:
    """A refused form: which one (`form`, e.g. "document:acme"), its data, its messages."""

    form: str
    data: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def fill(self, form: FlaskForm) -> FlaskForm:
        """Put the kept data and messages back into a freshly made form of the same class."""
        form.process(data=self.data)
        for name, messages in self.errors.items():
            if name in form._fields:
                form._fields[name].errors = list(messages)
        form.form_errors[:] = self.form_errors
        return form


def of(form_name: str, form: FlaskForm, *, extra: dict[str, Any] | None = None) -> Draft:
    """The draft of a refused form: its fields (never the CSRF token) and their messages."""
    data = {name: f.data for name, f in form._fields.items() if name != "csrf_token"}
    errors = {name: list(f.errors) for name, f in form._fields.items()
              if name != "csrf_token" and f.errors}
    return Draft(form=form_name, data=data, errors=errors, form_errors=list(form.form_errors),
                 extra=extra or {})


def keep(draft: Draft) -> str | None:
    """Store the draft; its name, or None when Redis cannot be reached."""
    name = secrets.token_urlsafe(16)
    payload = json.dumps({"user": current_user.get_id(), **draft.__dict__})
    try:
        redis_connection().set(key(f"draft:{name}"), payload, ex=DRAFT_SECONDS)
    except REDIS_DOWN:
        current_app.logger.warning("Redis is unreachable: a refused form is answered in place")
        return None
    return name


def redirect_to(draft: Draft, endpoint: str, anchor: str | None = None, **values):
    """Keep the draft and send the browser to the page that shows it (303), or None without Redis."""
    name = keep(draft)
    if name is None:
        return None
    return redirect(url_for(endpoint, draft=name, _anchor=anchor, **values), 303)


def current() -> Draft | None:
    """The draft named in the query string, if it exists and belongs to the signed-in user."""
    name = request.args.get("draft", "")
    if not name or len(name) > 64 or not set(name) <= _NAME_CHARS:
        return None
    try:
        payload = redis_connection().get(key(f"draft:{name}"))
    except REDIS_DOWN:
        return None
    if payload is None:
        return None
    stored = json.loads(payload)
    if stored.pop("user", None) != current_user.get_id():
        return None
    return Draft(**stored)
