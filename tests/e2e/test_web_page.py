"""The web page in a real headless Chromium against the `make run` stack; saves a screenshot."""

from __future__ import annotations

import pytest

from tests.conftest import CLUTTER, REFERENCE_TITLE
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


@pytest.fixture()
def page(open_page):
    return open_page("/")


def test_paste_an_article_and_read_summary_and_stance(stack, page, reference_text):
    page.fill("#title", REFERENCE_TITLE)
    page.fill("#article", reference_text)
    page.fill("#claims", f"{REFERENCE_TITLE}\nBarcelona beat Real Madrid 3-1")
    page.select_option("#max-sentences", "3")
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)

    assert page.inner_text("#status-label") == "succeeded"
    summary = page.inner_text("#summary")
    assert summary.strip()
    for clutter in CLUTTER:
        assert clutter not in summary
        assert clutter not in page.inner_text("#article-view")
    assert page.locator("#article-view mark").count() == 3  # the summary, highlighted

    rows = page.locator("#stance > li")
    assert rows.count() == 2
    assert rows.nth(0).locator(".badge").inner_text() != "unrelated"
    assert rows.nth(1).locator(".badge").inner_text() == "unrelated"

    rows.nth(0).locator(".evidence button").first.click()
    assert page.locator("#article-view mark.evidence").count() == 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)


def test_errors_are_shown_plainly(stack, page):
    page.fill("#title", "A title")
    page.fill("#article", "   ")
    page.click("#submit")
    page.wait_for_selector("#error:not([hidden])", timeout=10_000)
    assert "not valid" in page.inner_text("#error-message")
    assert "article.text" in page.inner_text("#error-fields")
