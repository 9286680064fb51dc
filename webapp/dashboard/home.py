"""/admin/: the platforms you can act on, with counts, and the last purge run."""
from flask import render_template

from webapp.dashboard import bp
from webapp.dashboard.common import staff_required


@bp.route("/")
@staff_required
def home():
    return render_template("dashboard/home.html")
