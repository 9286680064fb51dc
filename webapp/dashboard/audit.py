"""/admin/audit: the audit log, filtered by platform, user and actor."""
from flask import render_template

from webapp.dashboard import bp
from webapp.dashboard.common import staff_required


@bp.route("/audit")
@staff_required
def audit_log():
    return render_template("dashboard/placeholder.html", title="Audit log")
