"""The web page in a real headless Chromium against the `make run` stack; saves a screenshot."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin

import pytest
import requests

from tests.conftest import CLUTTER, REFERENCE_TITLE
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e


@pytest.fixture()
def page(open_page):
    return open_page("/", width=1200, height=800)


def submit_reference(page, reference_text: str, claims: str) -> dict:
    """Paste the reference article and claims, submit, wait: the job as the API has it."""
    page.fill("#title", REFERENCE_TITLE)
    page.fill("#article", reference_text)
    page.fill("#claims", claims)
    page.select_option("#max-sentences", "3")
    with page.expect_response(lambda r: r.request.method == "POST") as created:
        page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)
    job_url = urljoin(created.value.url, created.value.json()["links"]["self"])
    return requests.get(job_url, timeout=10).json()


def test_paste_an_article_and_read_summary_and_stance(stack, page, reference_text):
    job = submit_reference(
        page, reference_text, f"{REFERENCE_TITLE}\nBarcelona beat Real Madrid 3-1"
    )

    assert page.inner_text("#status-label") == "succeeded"
    summary = page.inner_text("#summary")
    assert summary.strip()
    for clutter in CLUTTER:
        assert clutter not in summary
        assert clutter not in page.inner_text("#article-view")
    assert page.locator("#article-view mark").count() == 3  # the summary, highlighted

    # The result arrived: it is scrolled into view, its heading focused.
    assert page.evaluate("window.scrollY") > 0
    top = page.evaluate("document.getElementById('results').getBoundingClientRect().top")
    assert 0 <= top < 50
    assert page.evaluate("document.activeElement.id") == "results-heading"
    # The README's picture of a result (docs/img/result.png is a copy of it).
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    column = page.locator("main").bounding_box()  # the page's column, not the margins
    clip = {"x": column["x"] - 16, "y": 0, "width": column["width"] + 32, "height": 620}
    page.screenshot(path=str(ARTIFACTS / "readme-result.png"), clip=clip)

    # One line that says what each label means.
    legend = page.locator("#stance-legend")
    assert legend.locator(".badge").all_inner_texts() == [
        "agree", "disagree", "discuss", "unrelated",
    ]  # fmt: skip
    line_height = legend.evaluate("e => parseFloat(getComputedStyle(e).lineHeight)")
    assert legend.bounding_box()["height"] < 1.5 * line_height

    cards = page.locator("#stance > li")
    assert cards.count() == 2
    assert cards.nth(0).locator(".badge").inner_text() != "unrelated"
    assert cards.nth(1).locator(".badge").inner_text() == "unrelated"
    for card, stance in zip(cards.all(), job["result"]["stance"], strict=True):
        assert card.locator(".claim-text").inner_text() == stance["claim"]
        # Scores as small bars: one a label, the bar's length the score.
        bars = card.locator(".score")
        assert bars.locator(".name").all_inner_texts() == list(stance["scores"])
        for bar, score in zip(bars.all(), stance["scores"].values(), strict=True):
            assert bar.locator(".value").inner_text() == f"{score:.2f}"
            fill = bar.locator(".fill").bounding_box()["width"]
            track = bar.locator(".bar").bounding_box()["width"]
            assert fill / track == pytest.approx(score, abs=0.02)
        # Each evidence sentence its own quote, its verdict where the result has one.
        quotes = card.locator(".evidence .quote")
        assert quotes.locator(".quote-text").all_inner_texts() == [
            f"“{e['text']}”" for e in stance["evidence"]
        ]
        with_verdict = [e for e in stance["evidence"] if e.get("verdict")]
        assert card.locator(".verdict").count() == len(with_verdict)
        assert bool(with_verdict) == (stance["label"] != "unrelated")

    cards.nth(0).locator(".evidence button").first.click()
    assert page.locator("#article-view mark.evidence").count() == 1

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-page.png"), full_page=True)


def test_each_evidence_sentence_shows_its_verdict(stack, page, reference_text):
    """Verdicts as the API gives them (supports / refutes / neutral, with or without a score):
    the job's real answer with its verdicts replaced on its way to the page, to show each
    form."""
    verdicts = [("refutes", 0.91), ("supports", None), (None, None)]

    def add_verdicts(route) -> None:
        response = route.fetch()
        body = response.json()
        if body.get("status") == "succeeded":
            for evidence, (verdict, score) in zip(
                body["result"]["stance"][0]["evidence"], verdicts, strict=False
            ):
                evidence.pop("verdict", None)
                evidence.pop("verdict_score", None)
                if verdict:
                    evidence["verdict"] = verdict
                if score is not None:
                    evidence["verdict_score"] = score
        route.fulfill(response=response, json=body)

    page.route(re.compile(r"/v1/jobs/[0-9a-f]+\?"), add_verdicts)
    job = submit_reference(page, reference_text, REFERENCE_TITLE)
    assert len(job["result"]["stance"][0]["evidence"]) == 3

    quotes = page.locator("#stance > li").nth(0).locator(".quote")
    refuting, supporting, plain = quotes.all()
    assert refuting.locator(".verdict").inner_text() == "✗ refutes the claim (0.91)"
    assert supporting.locator(".verdict").inner_text() == "✓ supports the claim"
    assert plain.locator(".verdict").count() == 0
    # The refuting sentence stands out: its own border and background, not the others'.
    style = "e => [getComputedStyle(e).borderLeftColor, getComputedStyle(e).backgroundColor]"
    assert refuting.evaluate(style) != plain.evaluate(style)
    assert refuting.evaluate(style)[1] != "rgba(0, 0, 0, 0)"
    assert plain.evaluate(style)[1] == "rgba(0, 0, 0, 0)"


def visible_text(page) -> str:
    return page.evaluate("document.body.innerText")


def test_an_empty_article_is_said_plainly_next_to_the_field(stack, page):
    page.fill("#title", "A title")
    page.fill("#article", "   ")
    page.click("#submit")
    page.wait_for_selector("#article-error:not([hidden])", timeout=10_000)

    assert page.inner_text("#article-error") == "The article text is empty."
    assert page.inner_text("#error-message") == "Please correct the highlighted field."
    assert page.get_attribute("#article", "aria-invalid") == "true"
    assert page.get_attribute("#article", "aria-describedby") == "article-error"
    assert (
        page.evaluate("getComputedStyle(document.getElementById('article')).borderTopColor")
        == "rgb(196, 60, 60)"
    )
    assert page.evaluate("document.activeElement.id") == "article"
    assert page.get_attribute("#title", "aria-invalid") is None
    assert "article.text" not in visible_text(page)
    assert "not valid" not in visible_text(page)


def test_a_short_claim_is_named_by_its_line(stack, page, reference_text):
    page.fill("#article", reference_text)
    page.fill("#claims", f"{REFERENCE_TITLE}\nab")
    page.click("#submit")
    page.wait_for_selector("#claims-error:not([hidden])", timeout=10_000)

    assert page.inner_text("#claims-error") == ("Claim 2: Write between 3 and 500 characters.")
    assert page.get_attribute("#claims", "aria-invalid") == "true"
    assert page.get_attribute("#article", "aria-invalid") is None
    assert "claims.1" not in visible_text(page)

    # Corrected and sent again: the error and the highlight go.
    page.fill("#claims", REFERENCE_TITLE)
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)
    assert page.is_hidden("#claims-error")
    assert page.is_hidden("#error")
    assert page.get_attribute("#claims", "aria-invalid") is None


RECORD_STATUSES = """() => {
  window.statuses = [];
  const label = document.getElementById("status-label");
  new MutationObserver(() => {
    if (window.statuses.at(-1) !== label.textContent) window.statuses.push(label.textContent);
  }).observe(label, { childList: true, characterData: true, subtree: true });
}"""


def test_the_page_shows_running_while_a_worker_analyses(stack, page, reference_text):
    # Long enough that the worker spends seconds on it: thirty copies of the article, each
    # paragraph told apart (the cleaner drops repeated ones), and twenty claims.
    paragraphs = [p for p in reference_text.split("\n") if p.strip()]
    article = "\n\n".join(f"Update {n}: {p}" for n in range(30) for p in paragraphs)
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
