"""Sign in and out (`/login`, `/logout`), shared by the dashboard and the OAuth login step."""
from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from webapp.extensions import db, limiter, login_manager
from webapp.dashboard.forms import LoginForm
from webapp.models import User

bp = Blueprint("auth", __name__)


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    user = db.session.get(User, int(user_id)) if user_id.isdigit() else None
    return user if user is not None and user.is_active else None


def safe_next(target: str | None) -> str | None:
    """Only same-site relative paths are followed after login (no open redirects)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def _login_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"], key_func=lambda: request.remote_addr or "-")
def login():
    form = LoginForm()
    next_url = safe_next(request.args.get("next"))
    if form.validate_on_submit():
        user = User.by_username(form.username.data)
        if user is not None and user.is_active and user.check_password(form.password.data):
            # A fresh session on sign-in: nothing from before survives (no fixation).
            session.clear()
            login_user(user)
            return redirect(next_url or url_for("dashboard.home"))
        flash("Wrong username or password.", "error")
    status = 400 if request.method == "POST" else 200
    return render_template("auth/login.html", form=form, next_url=next_url), status


@bp.route("/logout", methods=["POST"])
def logout():
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/")
def index():
    return redirect(url_for("dashboard.home") if current_user.is_authenticated else url_for("auth.login"))
