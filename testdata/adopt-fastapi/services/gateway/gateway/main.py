import os

import httpx
from fastapi import FastAPI, HTTPException

USERS_URL = os.environ.get("USERS_URL", "http://users:8000")
ITEMS_URL = os.environ.get("ITEMS_URL", "http://items:8002")

app = FastAPI(title="gateway")


@app.get("/")
def index():
    return {"services": {"users": USERS_URL, "items": ITEMS_URL}}


@app.get("/users/{user_id}/items")
def user_items(user_id: int):
    user = httpx.get(f"{USERS_URL}/users/{user_id}", timeout=5)
    if user.status_code == 404:
        raise HTTPException(status_code=404, detail="no such user")
    items = httpx.get(f"{ITEMS_URL}/items", timeout=5).json()
    return {"user": user.json(), "items": [i for i in items if i["owner"] == user_id]}
