from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import get_db
from app.models import User

app = FastAPI(title="users")


class UserIn(BaseModel):
    email: str


@app.get("/health")
def health(db: Session = Depends(get_db)):
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@app.post("/users", status_code=201)
def create(body: UserIn, db: Session = Depends(get_db)):
    row = User(**body.model_dump())
    db.add(row)
    db.commit()
    return {"id": row.id, **body.model_dump()}


@app.get("/users")
def list_all(db: Session = Depends(get_db)):
    return [{"id": r.id, **{c: getattr(r, c) for c in UserIn.model_fields}} for r in db.scalars(select(User))]


@app.get("/users/{row_id}")
def read(row_id: int, db: Session = Depends(get_db)):
    row = db.get(User, row_id)
    if row is None:
        raise HTTPException(status_code=404)
    return {"id": row.id, **{c: getattr(row, c) for c in UserIn.model_fields}}
