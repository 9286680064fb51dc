"""Superadmin pages: create platforms and users."""
from flask import render_template

from webapp.dashboard import bp
from webapp.dashboard.common import superadmin_required


@bp.route("/superadmin")
@superadmin_required
def admin_home():
    return render_template("dashboard/placeholder.html", title="Administration")
