from fastapi import Depends, FastAPI, HTTPException
from pydantic import BaseModel
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.db import get_db
from app.models import Item

app = FastAPI(title="items")


class ItemIn(BaseModel):
    name: str
    owner: int


@app.get("/health")
def health(db: Session = Depends(get_db)):
    db.execute(text("SELECT 1"))
    return {"status": "ok"}


@app.post("/items", status_code=201)
def create(body: ItemIn, db: Session = Depends(get_db)):
    row = Item(**body.model_dump())
    db.add(row)
    db.commit()
    return {"id": row.id, **body.model_dump()}


@app.get("/items")
def list_all(db: Session = Depends(get_db)):
    return [{"id": r.id, **{c: getattr(r, c) for c in ItemIn.model_fields}} for r in db.scalars(select(Item))]


@app.get("/items/{row_id}")
def read(row_id: int, db: Session = Depends(get_db)):
    row = db.get(Item, row_id)
    if row is None:
        raise HTTPException(status_code=404)
    return {"id": row.id, **{c: getattr(row, c) for c in ItemIn.model_fields}}
