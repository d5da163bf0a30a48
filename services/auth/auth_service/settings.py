"""Settings of the auth service: shared ones from convoykit, the rest from the env."""
import os
from pathlib import Path

from convoykit.settings import service_settings

globals().update(service_settings(
    "auth_service", Path(__file__).resolve().parent.parent,
    apps=["accounts"], permission="IsAuthenticated",
    contrib=["django.contrib.auth", "django.contrib.contenttypes"],
))

AUTH_USER_MODEL = "accounts.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Lifetime of the JWTs this service issues (every service verifies them with JWT_SECRET).
JWT_LIFETIME_SECONDS = int(os.environ.get("JWT_LIFETIME_SECONDS", "3600"))
