"""Sign in and out (`/login`, `/logout`), shared by the dashboard and the OAuth login step.

Hardening, each covered by tests/dashboard/test_auth.py:
- Failed sign-ins are throttled per client address and per username (Flask-Limiter,
  `LOGIN_RATE_LIMIT`, e.g. "10 per minute", counted in Redis: webapp.ratelimit); only
  failures count, and the throttled answer is the 429 page.
- A successful sign-in starts a fresh session: whatever the session held before is gone
  and the cookie changes (no session fixation).
- The session cookie is HttpOnly and SameSite=Lax; it is Secure when
  `SESSION_COOKIE_SECURE` is set, and also whenever the request came over HTTPS
  (`request.is_secure`; behind a TLS-terminating proxy set `PROXY_FIX_HOPS` so the
  forwarded scheme is believed, or simply set `SESSION_COOKIE_SECURE=true`).
- Signing out is a POST with a CSRF token, and ends every session of the user (a copied
  cookie stops working); so does a new password. `?next=` is followed only to a path on
  this site.
- Inactive users cannot sign in, and a session of a user made inactive stops working.
- A session left unused for SESSION_LIFETIME seconds (12 hours by default) has ended.
"""
from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlsplit

from flask import (
    Blueprint,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from webapp import ratelimit
from webapp.dashboard.forms import LoginForm
from webapp.extensions import db, limiter, login_manager
from webapp.hashing import hash_password, verify_password
from webapp.http import ID_MAX
from webapp.models import OAuth2Client, User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The active user a session names, if the session is of their current version
    (User.get_id): signing out or a new password ends every older session."""
    user_id, _, version = session_id.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and version.isascii() and version.isdigit()):
        return None
    user = db.session.get(User, int(user_id)) if int(user_id) <= ID_MAX else None
    if user is None or not user.is_active or str(user.session_version) != version:
        return None
    return user


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirects).

    Browsers ignore tabs and newlines in URLs and read a backslash as a slash, so
    `/\\evil.example` or `/<TAB>/evil.example` would leave the site: such targets are refused.
    """
    if not target:
        return None
    if any(ch in target for ch in "\\") or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    return target


@functools.cache
def _decoy_hash() -> str:
    return hash_password("not anybody's password")


def authenticate(username: str, password: str) -> User | None:
    """The active user with this username and password, or None.

    An unknown username, or a user without a password, costs a password check too, so
    timing does not tell which usernames exist.
    """
    user = User.by_username(username)
    if user is None or not user.password_hash:
        verify_password(_decoy_hash(), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def asking_application(next_url: str | None) -> OAuth2Client | None:
    """The OAuth client a sign-in leads to (`next` is /oauth/authorize), so the login page
    can name it as the consent page does.

    Named only when the request would get as far as the consent page: a registered client,
    and its own redirect URI when one is given. Anything else names no application.
    """
    if not next_url:
        return None
    parts = urlsplit(next_url)
    if parts.path != url_for("oauth.authorize"):
        return None
    query = parse_qs(parts.query)
    client_id = (query.get("client_id") or [""])[0]
    if not client_id or len(client_id) > 48:
        return None
    client = db.session.scalar(select(OAuth2Client).where(OAuth2Client.client_id == client_id))
    redirect_uris = query.get("redirect_uri")
    redirect_uri = redirect_uris[0] if redirect_uris else None
    if client is None or (redirect_uri is not None and redirect_uri not in client.redirect_uris):
        return None
    return client


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(ratelimit.login_limit, methods=["POST"], key_func=ratelimit.login_address,
               exempt_when=ratelimit.disabled)
@limiter.limit(ratelimit.login_limit, methods=["POST"], key_func=ratelimit.login_username,
               exempt_when=ratelimit.disabled)
def login():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = authenticate(form.username.data, form.password.data)
        if user is not None:
            ratelimit.refund_login_attempt()
            # A fresh session on sign-in: nothing from before survives (no fixation). It
            # lasts SESSION_LIFETIME from the last request: an idle session runs out.
            session.clear()
            session.permanent = True
            login_user(user)
            return redirect(next_url or url_for("dashboard.home"))
        flash("Wrong username or password.", "error")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, next_url=next_url,
                           application=asking_application(next_url)), status


@bp.route("/logout", methods=["POST"])
def logout():
    """Ends every session of the user, not only this browser's: a copy of the cookie taken
    before (or a session left open elsewhere) stops working too."""
    if current_user.is_authenticated:
        current_user.end_sessions()
        db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def index():
    return redirect(url_for("dashboard.home") if current_user.is_authenticated else url_for("auth.login"))
