"""The OAuth 2.0 authorization server (CONTRACT section 5), built on authlib."""
from flask import Flask


def init_app(app: Flask) -> None:
    from webapp.extensions import csrf
    from webapp.oauth import views
    from webapp.oauth.server import init_server

    init_server(app)
    # Client-authenticated endpoints: no cookies are involved, so no CSRF token either.
    for view in (views.token, views.revoke, views.introspect):
        csrf.exempt(view)
    app.register_blueprint(views.bp)
    app.register_blueprint(views.well_known_bp)
