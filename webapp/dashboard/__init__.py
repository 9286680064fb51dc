"""The admin dashboard: server-rendered pages for tenant admins and support staff.

Every page module adds its routes to the one `bp` blueprint under /admin/; who may see
what is asked of webapp.access, never decided here.
"""
from flask import Blueprint, Flask

from webapp.extensions import login_manager

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    from webapp.dashboard import admin, audit, auth, home, platforms, users  # noqa: F401
    from webapp.dashboard import user_page  # noqa: F401

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    app.register_blueprint(auth.bp)
    app.register_blueprint(bp)

    @app.route("/healthz")
    def healthz():
        return {"status": "ok"}
