"""The web page at `/`: a form that submits a job and shows its summary and stance.

The page is static (api/static, served by Flask at /static) and talks to the JSON API
like any other client; no server-side rendering of article text, hence no injection.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

blp = Blueprint("web", __name__)


@blp.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")
