"""The web page at `/`, and the assets of the API docs page at `/docs`.

The page is static (api/static, served by Flask at /static) and talks to the JSON API
like any other client; no server-side rendering of article text, hence no injection.
Swagger UI's files come from the `swagger-ui-bundle` package, served here, so that `/docs`
works on a machine without internet.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, send_from_directory

blp = Blueprint("web", __name__)


@blp.get("/")
def index() -> Response:
    return current_app.send_static_file("index.html")


@blp.get("/docs/assets/<path:name>")
def docs_asset(name: str) -> Response:
    import swagger_ui_bundle

    # send_from_directory refuses paths that leave the folder (404).
    return send_from_directory(swagger_ui_bundle.swagger_ui_path, name, max_age=86_400)
