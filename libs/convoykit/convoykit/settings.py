"""The Django settings every convoy service shares.

A service's settings module calls ``service_settings`` and adds what is its own::

    globals().update(service_settings("events_service", BASE_DIR, apps=["events"]))

Deployment-specific values come from the environment: ``SECRET_KEY``, ``DEBUG``,
``ALLOWED_HOSTS`` and ``DATABASE_URL`` (SQLite in the service directory when unset).
"""
import os

import dj_database_url


def service_settings(project, base_dir, apps, permission="IsAuthenticatedOrReadOnly", contrib=()):
    """Return the shared settings of the Django project ``project`` rooted at ``base_dir``.

    ``apps`` are the service's own apps, ``contrib`` the django.contrib apps it needs, and
    ``permission`` the DRF permission class applied by default.
    """
    return {
        "BASE_DIR": base_dir,
        "SECRET_KEY": os.environ.get("SECRET_KEY", f"dev-only-insecure-{project}-secret-key"),
        "DEBUG": os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"},
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", "*").split(","),
        "INSTALLED_APPS": [*contrib, "rest_framework", *apps],
        "MIDDLEWARE": [
            "django.middleware.security.SecurityMiddleware",
            "django.middleware.common.CommonMiddleware",
        ],
        "ROOT_URLCONF": f"{project}.urls",
        "WSGI_APPLICATION": f"{project}.wsgi.application",
        "DATABASES": {
            "default": dj_database_url.config(
                default=f"sqlite:///{base_dir / 'db.sqlite3'}",
                conn_max_age=60, conn_health_checks=True,
            ),
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": ["convoykit.authentication.JWTAuthentication"],
            "DEFAULT_PERMISSION_CLASSES": [f"rest_framework.permissions.{permission}"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
    }
