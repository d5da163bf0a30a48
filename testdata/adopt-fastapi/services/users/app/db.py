import os

from dbkit import make_sessionmaker

DATABASE_URL = os.environ.get("DATABASE_URL", "sqlite:///./users.sqlite3")
SessionLocal = make_sessionmaker(DATABASE_URL)


def get_db():
    db = SessionLocal()
    try:
        yield db
    finally:
        db.close()
