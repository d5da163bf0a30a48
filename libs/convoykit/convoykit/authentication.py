"""DRF authentication from a shared-key JWT, without a local user table or a call to auth."""
from rest_framework import authentication, exceptions

from . import tokens


class TokenUser:
    """The user a valid token stands for: just its UUID (the full record lives in auth)."""

    is_authenticated = True
    is_anonymous = False

    def __init__(self, uuid, claims=None):
        self.uuid = uuid
        self.claims = claims or {}

    def __eq__(self, other):
        return isinstance(other, TokenUser) and other.uuid == self.uuid

    def __hash__(self):
        return hash(self.uuid)

    def __str__(self):
        return str(self.uuid)


class JWTAuthentication(authentication.BaseAuthentication):
    """Accept ``Authorization: Bearer <token>``; requests without that header stay anonymous."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be 'Bearer <token>'.")
        try:
            claims = tokens.decode(header[1].decode("latin-1"))
        except tokens.TokenError as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}.")
        return TokenUser(claims["sub"], claims), claims

    def authenticate_header(self, request):
        # Makes DRF answer 401 (with WWW-Authenticate) rather than 403 to unauthenticated requests.
        return f'{self.keyword} realm="api"'
