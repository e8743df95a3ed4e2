"""Profile service: user cards for the web shop's header and order pages."""

import os

from fastapi import FastAPI

from directory import Directory

app = FastAPI()
directory = Directory()


@app.get("/users/{user_id}/card")
def user_card(user_id: str):
    user = directory.find(user_id)
    name = user.get("nickname") or f"{user['first_name']} {user['last_name']}"
    return {"id": user_id, "name": name, "avatar": user.get("avatar_url", "/static/default.png")}


@app.get("/healthz")
def healthz():
    return {"ok": True}


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
