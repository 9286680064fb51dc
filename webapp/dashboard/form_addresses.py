"""GET on the addresses forms post to: the page the form is on, never 405.

A refused form on the platform and superadmin pages is answered at the address it was posted
to, with what was typed kept; opening that address again (a reload after the browser's
warning, the address bar, a bookmark) asks for it with GET, which would be 405. Each such
address leads to its form's page instead. The user page goes further (drafts.py).
"""
from __future__ import annotations

from flask import redirect, url_for

from webapp.dashboard import bp

# POST-only address -> (the page its form is on, the address values that page takes)
FORM_PAGES = {
    "/platforms/<platform_key>/members": ("dashboard.platform_detail", ("platform_key",)),
    "/platforms/<platform_key>/members/<int:user_id>": ("dashboard.platform_detail", ("platform_key",)),
    "/platforms/<platform_key>/members/<int:user_id>/remove": ("dashboard.platform_detail",
                                                               ("platform_key",)),
    "/platforms/<platform_key>/clients/<int:client_pk>/rotate": ("dashboard.platform_client",
                                                                 ("platform_key", "client_pk")),
    "/platforms/<platform_key>/tokens/<int:token_id>/revoke": ("dashboard.platform_tokens",
                                                               ("platform_key",)),
    "/superadmin/platforms": ("dashboard.admin_home", ()),
    "/superadmin/users": ("dashboard.admin_home", ()),
    "/users/<int:user_id>/platforms/<platform_key>/metadata": ("dashboard.user_detail", ("user_id",)),
    "/users/<int:user_id>/entries": ("dashboard.user_detail", ("user_id",)),
    "/users/<int:user_id>/clients/<int:client_pk>/entries": ("dashboard.user_detail", ("user_id",)),
    "/users/<int:user_id>/clients/<int:client_pk>/entries/delete": ("dashboard.user_detail",
                                                                    ("user_id",)),
}


def _leads_to(endpoint: str, keep: tuple[str, ...]):
    def view(**values):
        return redirect(url_for(endpoint, **{name: values[name] for name in keep}))

    return view


for _number, (_rule, (_endpoint, _keep)) in enumerate(FORM_PAGES.items()):
    bp.add_url_rule(_rule, endpoint=f"form_page_{_number}", view_func=_leads_to(_endpoint, _keep),
                    methods=["GET"])
