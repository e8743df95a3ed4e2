"""Loyalty service entry point: the application lives in the `loyalty` package."""

import os

from loyalty import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host=os.environ.get("HOST", "0.0.0.0"), port=int(os.environ.get("PORT", "8080")))
