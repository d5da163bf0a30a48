"""Test helpers shared by the services: a fixed JWT secret and ready-made bearer headers."""
import os
from unittest import mock

from . import tokens

TEST_SECRET = "convoykit-test-secret-not-for-production-use"


def use_test_secret():
    """Patch ``JWT_SECRET`` to :data:`TEST_SECRET` (a decorator or a context manager)."""
    return mock.patch.dict(os.environ, {"JWT_SECRET": TEST_SECRET})


def bearer(user_uuid, **claims):
    """Return an ``Authorization`` header value for ``user_uuid`` signed with TEST_SECRET."""
    return f"Bearer {tokens.encode(user_uuid, secret=TEST_SECRET, **claims)}"
