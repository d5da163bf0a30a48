import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from rest_framework.test import APIClient

HELD = "9780141439518"
LOAN = {"isbn": HELD, "member": "ada", "due": "2026-12-24"}


class Catalog(BaseHTTPRequestHandler):
    """A catalog that holds one book, HELD, served over real HTTP."""

    def do_GET(self):
        if self.path == f"/api/books/{HELD}/":
            body = json.dumps({"isbn": HELD, "title": "Pride and Prejudice"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            self.send_error(404)

    def log_message(self, *args):
        pass


@pytest.fixture
def catalog(settings):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Catalog)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.CATALOG_URL = f"http://127.0.0.1:{server.server_port}"
    yield settings.CATALOG_URL
    server.shutdown()
    server.server_close()


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.django_db
def test_a_loan_is_listed_by_isbn(api, settings):
    settings.CATALOG_URL = ""
    assert api.post("/api/loans/", LOAN, format="json").status_code == 201
    api.post("/api/loans/", {**LOAN, "isbn": "9780553213119"}, format="json")
    loans = api.get("/api/loans/", {"isbn": HELD}).json()
    assert [(loan["isbn"], loan["member"], loan["due"]) for loan in loans] == [(HELD, "ada", "2026-12-24")]


@pytest.mark.django_db
def test_a_member_borrows_a_book_once(api, settings):
    settings.CATALOG_URL = ""
    api.post("/api/loans/", LOAN, format="json")
    assert api.post("/api/loans/", LOAN, format="json").status_code == 400


@pytest.mark.django_db
def test_a_book_the_catalog_holds_is_lent(api, catalog):
    assert api.post("/api/loans/", LOAN, format="json").status_code == 201


@pytest.mark.django_db
def test_a_book_the_catalog_does_not_hold_is_400(api, catalog):
    response = api.post("/api/loans/", {**LOAN, "isbn": "9780553213119"}, format="json")
    assert response.status_code == 400
    assert response.json() == {"isbn": ["9780553213119 is not in the catalog"]}


@pytest.mark.django_db
def test_an_unreachable_catalog_is_503(api, settings, catalog):
    settings.CATALOG_URL = "http://127.0.0.1:9"  # discard: nothing listens there
    response = api.post("/api/loans/", LOAN, format="json")
    assert response.status_code == 503
    assert "127.0.0.1:9" in response.json()["detail"]
