"""JWTs shared by all services: HS256, signed with the key in the ``JWT_SECRET`` environment
variable.

The subject (``sub``) is the user's UUID, the one identifier every service agrees on.
"""
import datetime
import os

import jwt

from .uuids import parse_uuid

ALGORITHM = "HS256"
DEFAULT_LIFETIME = datetime.timedelta(hours=1)


class TokenError(Exception):
    """The token is missing, malformed, expired or signed with another key."""


def get_secret():
    """Return the shared signing key, or raise ``RuntimeError`` if ``JWT_SECRET`` is unset."""
    secret = os.environ.get("JWT_SECRET")
    if not secret:
        raise RuntimeError("JWT_SECRET is not set: every service must share the same signing key")
    return secret


def encode(user_uuid, *, lifetime=DEFAULT_LIFETIME, secret=None, **claims):
    """Return a signed token whose subject is ``user_uuid``; extra ``claims`` are added as-is."""
    now = datetime.datetime.now(datetime.timezone.utc)
    payload = {**claims, "sub": str(parse_uuid(user_uuid)), "iat": now, "exp": now + lifetime}
    return jwt.encode(payload, secret or get_secret(), algorithm=ALGORITHM)


def decode(token, *, secret=None):
    """Verify ``token`` and return its claims; ``sub`` is returned as a :class:`uuid.UUID`."""
    try:
        claims = jwt.decode(
            token, secret or get_secret(), algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
        claims["sub"] = parse_uuid(claims["sub"])
    except (jwt.InvalidTokenError, ValueError) as exc:
        raise TokenError(str(exc)) from exc
    return claims
