"""SQLAlchemy helpers every service with a database shares."""
from sqlalchemy import create_engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker


class Base(DeclarativeBase):
    pass


def make_sessionmaker(url):
    """A sessionmaker bound to an engine of url (SQLite made usable across threads)."""
    args = {"check_same_thread": False} if url.startswith("sqlite") else {}
    return sessionmaker(bind=create_engine(url, connect_args=args), expire_on_commit=False)
