"""Django settings every service of the shop shares, from the environment.

A service's settings module does::

    globals().update(service_settings("catalog_service", BASE_DIR, apps=["products"]))

``DATABASE_URL`` (dj-database-url; SQLite in the service directory when unset), ``SECRET_KEY``,
``DEBUG`` and ``ALLOWED_HOSTS`` come from the environment. ``HOST`` and ``PORT`` are where the
server listens: ``gunicorn --bind ${HOST}:${PORT}``.
"""
import os

import dj_database_url


def service_settings(project, base_dir, apps):
    """Return the settings of the Django project ``project`` rooted at ``base_dir``."""
    return {
        "BASE_DIR": base_dir,
        "SECRET_KEY": os.environ.get("SECRET_KEY", f"dev-only-insecure-{project}-key"),
        "DEBUG": os.environ.get("DEBUG", "").lower() in {"1", "true", "yes", "on"},
        "ALLOWED_HOSTS": os.environ.get("ALLOWED_HOSTS", "*").split(","),
        "INSTALLED_APPS": ["rest_framework", *apps],
        "MIDDLEWARE": ["django.middleware.common.CommonMiddleware"],
        "ROOT_URLCONF": f"{project}.urls",
        "WSGI_APPLICATION": f"{project}.wsgi.application",
        "DATABASES": {
            "default": dj_database_url.config(default=f"sqlite:///{base_dir / 'db.sqlite3'}"),
        },
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "TIME_ZONE": "UTC",
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
            "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
            "UNAUTHENTICATED_USER": None,
        },
    }
