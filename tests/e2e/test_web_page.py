"""The web page in a real headless Chromium against the `make run` stack; saves a screenshot."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

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


RECORD_STATUSES = """() => {
  window.statuses = [];
  const label = document.getElementById("status-label");
  new MutationObserver(() => {
    if (window.statuses.at(-1) !== label.textContent) window.statuses.push(label.textContent);
  }).observe(label, { childList: true, characterData: true, subtree: true });
}"""


def test_the_page_shows_running_while_a_worker_analyses(stack, page, reference_text):
    # Long enough that the worker spends seconds on it: twenty copies of the article, each
    # paragraph told apart (the cleaner drops repeated ones), and twenty claims.
    paragraphs = [p for p in reference_text.split("\n") if p.strip()]
    article = "\n\n".join(f"Update {n}: {p}" for n in range(20) for p in paragraphs)
    page.evaluate(RECORD_STATUSES)
    page.fill("#article", article)
    page.fill("#claims", "\n".join(f"Kerry meets Putin in Sochi, day {n}" for n in range(20)))
    with page.expect_response(lambda r: r.request.method == "POST") as created:
        page.click("#submit")
    job_id = created.value.json()["id"]
    page.wait_for_selector("#results:not([hidden])", timeout=180_000)

    job = requests.get(f"{stack.url}/v1/jobs/{job_id}", timeout=10).json()
    started, finished = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
    ran = (finished - started).total_seconds()
    assert ran >= 2.5, f"the job ran {ran:.1f} s: too short to tell (a longer article)"
    assert page.evaluate("window.statuses") == ["queued", "running", "succeeded"]
