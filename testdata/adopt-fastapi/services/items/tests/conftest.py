import pytest
from dbkit import Base
from fastapi.testclient import TestClient

from app.db import get_db
from app.main import app
from dbkit import make_sessionmaker

TestSession = make_sessionmaker("sqlite:///./test.db")


@pytest.fixture
def client():
    engine = TestSession.kw["bind"]
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)

    def test_db():
        db = TestSession()
        try:
            yield db
        finally:
            db.close()

    app.dependency_overrides[get_db] = test_db
    yield TestClient(app)
    app.dependency_overrides.clear()
