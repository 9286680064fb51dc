"""The admin dashboard: server-rendered pages for tenant admins and support staff."""
from flask import Blueprint, Flask, render_template
from flask_login import login_required

from webapp.extensions import login_manager

bp = Blueprint("dashboard", __name__, url_prefix="/admin")


@bp.route("/")
@login_required
def home():
    return render_template("dashboard/home.html")


def init_app(app: Flask) -> None:
    from webapp.dashboard import auth

    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    app.register_blueprint(auth.bp)
    app.register_blueprint(bp)

    @app.route("/healthz")
    def healthz():
        return {"status": "ok"}
