"""The catalog and loans services together, as integration starts them (default scenarios)."""
import uuid


def test_every_service_is_healthy(api, service):
    response = api(service).get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_every_loan_of_the_scenario_is_of_a_catalog_book(api):
    loans = api("loans").get("/api/loans/").json()
    isbns = {book["isbn"] for book in api("catalog").get("/api/books/").json()}
    assert loans, "the loans service's default scenario was not loaded"
    assert {loan["isbn"] for loan in loans} <= isbns


def test_a_new_catalog_book_can_be_lent_and_an_unknown_one_cannot(api):
    isbn = "9798" + str(uuid.uuid4().int)[:9]
    book = {"isbn": isbn, "title": "A book added by the integration suite"}
    assert api("catalog").post("/api/books/", json=book).status_code == 201
    loan = {"isbn": isbn, "member": "integration", "due": "2027-03-01"}
    assert api("loans").post("/api/loans/", json=loan).status_code == 201
    lent = api("loans").get("/api/loans/", params={"isbn": isbn}).json()
    assert [entry["member"] for entry in lent] == ["integration"]

    unknown = {**loan, "isbn": "9780000000002"}
    response = api("loans").post("/api/loans/", json=unknown)
    assert response.status_code == 400
    assert response.json() == {"isbn": ["9780000000002 is not in the catalog"]}
