"""`/docs` works offline: Swagger UI's files are served by the service itself."""

from __future__ import annotations

import re

import pytest

from api import create_app


@pytest.fixture
def client():
    app = create_app({"TESTING": True, "REDIS_URL": "redis://127.0.0.1:1/0"})
    return app.test_client()


def test_the_docs_page_loads_only_local_assets_and_they_are_served(client):
    page = client.get("/docs").get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', page)
    assert any(a.endswith("swagger-ui-bundle.js") for a in assets)
    assert any(a.endswith("swagger-ui.css") for a in assets)
    for asset in assets:
        assert asset.startswith("/docs/assets/"), asset
        with client.get(asset) as response:
            assert response.status_code == 200 and len(response.data) > 1000, asset


def test_an_asset_path_cannot_leave_the_folder(client):
    for path in ("/docs/assets/../../../etc/passwd", "/docs/assets/%2e%2e/__init__.py"):
        with client.get(path) as response:
            assert response.status_code == 404
