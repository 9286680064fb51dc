"""Platform administration for tenant admins: members and roles, OAuth clients, API tokens."""
from flask import render_template

from webapp.dashboard import bp
from webapp.dashboard.common import staff_required


@bp.route("/platforms")
@staff_required
def platforms():
    return render_template("dashboard/placeholder.html", title="Platforms")
