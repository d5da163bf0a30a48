"""Shared helpers for the monorepo's Django services.

convoykit is not pip-installed: convoy puts ``libs/convoykit`` on ``PYTHONPATH`` for every service
that lists it under ``libs:``. Its third-party imports (Django, djangorestframework, PyJWT, PyYAML)
must therefore be in each service's own dependencies.
"""
