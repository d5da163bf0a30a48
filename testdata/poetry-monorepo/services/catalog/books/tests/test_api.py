import pytest
from rest_framework.test import APIClient

BOOK = {"isbn": "9780141439518", "title": "Pride and Prejudice", "author": "Jane Austen", "year": 1813}


@pytest.fixture
def api():
    return APIClient()


@pytest.mark.django_db
def test_a_new_book_is_listed_and_read_by_isbn(api):
    assert api.post("/api/books/", BOOK, format="json").status_code == 201
    assert api.get("/api/books/").json() == [{**BOOK, "copies": 1}]
    assert api.get(f"/api/books/{BOOK['isbn']}/").json()["title"] == "Pride and Prejudice"


@pytest.mark.django_db
@pytest.mark.parametrize("isbn", ["123", "9770000000000", "97801414395189"])
def test_an_invalid_isbn_is_400(api, isbn):
    response = api.post("/api/books/", {**BOOK, "isbn": isbn}, format="json")
    assert response.status_code == 400
    assert set(response.json()) == {"isbn"}


@pytest.mark.django_db
def test_an_isbn_is_in_the_catalog_once(api):
    api.post("/api/books/", BOOK, format="json")
    assert api.post("/api/books/", BOOK, format="json").status_code == 400


@pytest.mark.django_db
def test_an_unknown_book_is_404(api):
    assert api.get("/api/books/9780000000002/").status_code == 404
