"""Test helpers shared by the services: a fixed JWT secret, bearer headers, populator scenarios."""
import contextlib
import os
import tempfile
import textwrap
from pathlib import Path
from unittest import mock

from django.test import override_settings

from . import tokens

TEST_SECRET = "convoykit-test-secret-not-for-production-use"


def use_test_secret():
    """Patch ``JWT_SECRET`` to :data:`TEST_SECRET` (a decorator or a context manager)."""
    return mock.patch.dict(os.environ, {"JWT_SECRET": TEST_SECRET})


def bearer(user_uuid, **claims):
    """Return an ``Authorization`` header value for ``user_uuid`` signed with TEST_SECRET."""
    return f"Bearer {tokens.encode(user_uuid, secret=TEST_SECRET, **claims)}"


@contextlib.contextmanager
def populator_scenarios(**scenarios):
    """Run ``manage.py populate`` on test scenarios instead of the service's own files.

    Within the block ``settings.BASE_DIR`` is a temporary directory whose ``populator/`` holds
    ``NAME.yaml`` (dedented) for each ``NAME=text``; yields that ``populator/`` directory. Unit
    tests use it so that they test the command, while the populate stage checks the real data.
    """
    with tempfile.TemporaryDirectory() as base, override_settings(BASE_DIR=base):
        directory = Path(base, "populator")
        directory.mkdir()
        for name, text in scenarios.items():
            (directory / f"{name}.yaml").write_text(textwrap.dedent(text), encoding="utf-8")
        yield directory
