"""The catalog service, as the loans service asks it."""
import json
import urllib.error
import urllib.request

from django.conf import settings

TIMEOUT = 5


class CatalogUnavailable(Exception):
    """The catalog did not answer."""


def book(isbn):
    """Return the catalog's book ``isbn``, or None when the catalog does not hold it.

    Without ``CATALOG_URL`` there is no catalog to ask: every ISBN is taken as held.
    """
    if not settings.CATALOG_URL:
        return {"isbn": isbn}
    url = f"{settings.CATALOG_URL}/api/books/{isbn}/"
    try:
        with urllib.request.urlopen(url, timeout=TIMEOUT) as response:
            return json.load(response)
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise CatalogUnavailable(f"{url}: HTTP {exc.code}") from exc
    except OSError as exc:
        raise CatalogUnavailable(f"{url}: {exc}") from exc
