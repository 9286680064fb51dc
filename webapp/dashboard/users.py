"""User search and the user page (platform JSON, per-client keys, the user's audit trail)."""
from flask import render_template

from webapp.dashboard import bp
from webapp.dashboard.common import staff_required


@bp.route("/users")
@staff_required
def users():
    return render_template("dashboard/placeholder.html", title="Users")
