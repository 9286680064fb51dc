"""The admin dashboard: server-rendered pages for tenant admins and support staff.

Every page module adds its routes to the one `bp` blueprint under /admin/; who may see
what is asked of webapp.access, never decided here.
"""
from flask import Blueprint, Flask

from webapp.extensions import login_manager

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


def init_app(app: Flask) -> None:
    from webapp.dashboard import (  # noqa: F401  (each module adds its routes to bp)
        admin,
        audit,
        auth,
        data,
        home,
        platform_clients,
        platform_schema,
        platform_tokens,
        platforms,
        user_page,
        users,
    )

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    app.register_blueprint(auth.bp)
    app.register_blueprint(bp)

    @app.route("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.route("/favicon.ico")
    def favicon():
        """Browsers ask for /favicon.ico whatever the page links: the app's own icon."""
        return app.send_static_file("favicon.svg")
