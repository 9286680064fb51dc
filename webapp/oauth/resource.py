"""The resource side: `require_oauth` validates bearer tokens for the per-client API."""
from __future__ import annotations

from authlib.integrations.flask_oauth2 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator

from webapp.oauth.tokens import find_access_token


class HashedBearerTokenValidator(BearerTokenValidator):
    """Looks tokens up by hash; expiry and revocation are checked by authlib's validator."""

    def authenticate_token(self, token_string):
        return find_access_token(token_string)


require_oauth = ResourceProtector()
require_oauth.register_token_validator(HashedBearerTokenValidator())
