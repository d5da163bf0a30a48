import os

from alembic import context
from sqlalchemy import create_engine

url = os.environ.get("DATABASE_URL", "sqlite:///./users.sqlite3")
with create_engine(url).connect() as connection:
    context.configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()
