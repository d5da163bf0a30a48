"""Settings every service starts from; the rest comes from the environment."""
import os

import dj_database_url


def base_settings(project, base_dir, apps):
    """The settings of the Django project called project, with apps installed."""
    return {
        "BASE_DIR": base_dir,
        "SECRET_KEY": os.environ.get("SECRET_KEY", "insecure-" + project),
        "DEBUG": os.environ.get("DEBUG", "") == "1",
        "ALLOWED_HOSTS": ["*"],
        "INSTALLED_APPS": [
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "rest_framework",
        ] + apps,
        "MIDDLEWARE": ["django.middleware.common.CommonMiddleware"],
        "ROOT_URLCONF": project + ".urls",
        "WSGI_APPLICATION": project + ".wsgi.application",
        "DATABASES": {"default": dj_database_url.config(default="sqlite:///" + str(base_dir / "db.sqlite3"))},
        "DEFAULT_AUTO_FIELD": "django.db.models.BigAutoField",
        "USE_TZ": True,
        "REST_FRAMEWORK": {
            "DEFAULT_AUTHENTICATION_CLASSES": [],
            "DEFAULT_PERMISSION_CLASSES": [],
            "UNAUTHENTICATED_USER": None,
        },
    }
