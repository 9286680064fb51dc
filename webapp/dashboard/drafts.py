"""Post/redirect/get for refused forms: what was typed, and why it was refused, kept for a while.

A refused form used to be answered at its POST address, so a reload resent it or (opened
again from the address bar) answered 405. Now every dashboard form that can be refused
answers through `refused()`: the refusal is kept in Redis under a random name for
DRAFT_SECONDS, and the browser is sent (303) to the page's own GET address with
`?draft=<name>`; the page shows the form as it was sent, with its messages, and a reload
shows the same. (The Schema page's Check, which saves nothing, shows its result the same
way.) The text may be a 64 KiB document, too large for the session cookie, and
may hold what an admin would not want in a cookie; the draft is bound to the user who made
it and to the page it was made for, so a shared link shows nobody else what was typed, and
no other page shows it. Passwords are never kept: a refused form asks for them again.

Without Redis the refusal is answered in place, as before: a refused form never fails
because the draft could not be kept.
"""
from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import current_app, make_response, redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import PasswordField

from webapp.extensions import db
from webapp.jobs.queue import REDIS_DOWN, key, redis_connection

DRAFT_SECONDS = 3600
F = TypeVar("F", bound=FlaskForm)
_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


@dataclass
class Draft:
    """A refused form: which one (`form`, e.g. "document:acme"), its data, its messages."""

    form: str
    data: dict[str, Any]
    errors: dict[str, list[str]] = field(default_factory=dict)
    form_errors: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    def fill(self, form: F) -> F:
        """Put the kept data and messages back into a freshly made form of the same class."""
        form.process(data=self.data)
        for name, messages in self.errors.items():
            if name in form._fields:
                form._fields[name].errors = list(messages)
        form.form_errors[:] = self.form_errors
        return form


def of(form_name: str, form: FlaskForm, *, extra: dict[str, Any] | None = None) -> Draft:
    """The draft of a refused form: its fields (never the CSRF token nor a password) and
    their messages."""
    fields = {name: f for name, f in form._fields.items() if name != "csrf_token"}
    return Draft(form=form_name,
                 data={name: f.data for name, f in fields.items()
                       if not isinstance(f, PasswordField)},
                 errors={name: list(f.errors) for name, f in fields.items() if f.errors},
                 form_errors=list(form.form_errors), extra=extra or {})


def form_of(draft: Draft | None, form_name: str, form: F) -> F:
    """`form` as the draft left it when the draft is of that form; else `form` unchanged."""
    if draft is not None and draft.form == form_name:
        draft.fill(form)
    return form


def keep(draft: Draft, path: str) -> str | None:
    """Store the draft for the page at `path`; its name, or None when Redis cannot be reached."""
    name = secrets.token_urlsafe(16)
    payload = json.dumps({"user": current_user.get_id(), "path": path, **draft.__dict__})
    try:
        redis_connection().set(key(f"draft:{name}"), payload, ex=DRAFT_SECONDS)
    except REDIS_DOWN:
        current_app.logger.warning("Redis is unreachable: a refused form is answered in place")
        return None
    return name


def redirect_to(draft: Draft, endpoint: str, anchor: str | None = None, **values) -> Response | None:
    """Keep the draft and send the browser to the page that shows it (303), or None without Redis."""
    name = keep(draft, urlsplit(url_for(endpoint, **values)).path)
    if name is None:
        return None
    return redirect(url_for(endpoint, draft=name, _anchor=anchor, **values), 303)


def refused(draft: Draft, status: int, render: Callable[[Draft], ResponseReturnValue],
            endpoint: str, *, anchor: str | None = None, **values) -> Response:
    """The answer to a refused form: nothing it did is kept (rollback), and the browser goes
    to the page at `endpoint` (with `values`), which shows the draft; when the draft cannot
    be kept, `render(draft)` answers in place with `status`."""
    db.session.rollback()
    answer = redirect_to(draft, endpoint, anchor=anchor, **values)
    if answer is not None:
        return answer
    response = make_response(render(draft))
    response.status_code = status
    return response


def current() -> Draft | None:
    """The draft named in the query string, if it exists, belongs to the signed-in user and
    was made for this page."""
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
    if stored.pop("user", None) != current_user.get_id() or stored.pop("path", None) != request.path:
        return None
    return Draft(**stored)
