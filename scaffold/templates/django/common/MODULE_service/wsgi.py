"""WSGI entry point: ``gunicorn {{.Module}}_service.wsgi``."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{{.Module}}_service.settings")

application = get_wsgi_application()
