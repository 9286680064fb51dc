"""What every dashboard page shares: the staff-only guard."""
from __future__ import annotations

import functools

from flask import abort
from flask_login import current_user, login_required

from webapp import access


def staff_required(view):
    """Signed in, and staff (support or admin) somewhere, or a superadmin.

    Plain members get no dashboard at all: 403.
    """

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not access.can_use_dashboard(current_user):
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def superadmin_required(view):
    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not (current_user.is_active and current_user.is_superadmin):
            abort(403)
        return view(*args, **kwargs)

    return wrapper
