"""`/docs` in a real headless Chromium that can reach the service and no other host."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

METHODS = {"get", "put", "post", "delete", "patch", "head", "options"}


def test_docs_render_every_operation_offline(stack, open_page):
    spec = requests.get(f"{stack.url}/openapi.json", timeout=10).json()
    operations = {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in METHODS
    }
    assert ("POST", "/v1/jobs") in operations

    page = open_page("/docs", width=1280, height=900)
    page.wait_for_selector(".opblock", timeout=30_000)
    rendered = {
        (
            block.locator(".opblock-summary-method").inner_text().strip(),
            block.locator(".opblock-summary-path").get_attribute("data-path"),
        )
        for block in page.locator(".opblock").all()
    }
    assert rendered == operations
    assert page.locator(".info .title").inner_text().startswith(spec["info"]["title"])
    assert page.only_service.blocked == []  # nothing asked of another host

    # The README's picture of the docs (docs/img/docs.png is a copy of it).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "readme-docs.png"))
