"""Articles as scrapers and people hand them over, POSTed over real HTTP to gunicorn and run
by a real worker: surrounding whitespace of every kind, texts of a few short lines, no title."""

from __future__ import annotations

import pytest
import requests

from tests.conftest import REFERENCE_TITLE

pytestmark = pytest.mark.integration

# Newline, spaces, tabs, CRLF, no-break, em, ideographic and narrow spaces, line separator.
WHITESPACE = "\n \t\r\n\u00a0\u2003\u3000\u202f\u2028\r\n\t "


def run_job(api, job: dict) -> dict:
    response = requests.post(f"{api.url}/v1/jobs?wait=60", json=job, timeout=70)
    assert response.status_code == 200, response.text
    return response.json()


def test_scraped_article_with_surrounding_whitespace_and_no_title_line(api, worker, reference_text):
    # As a scraper hands it over: the title line cut, blank and odd spaces left around it.
    text = WHITESPACE + reference_text.split("\n", 1)[1] + WHITESPACE
    assert text.startswith("\n \t") and text.split()[0] == "Agence"
    job = run_job(api, {"article": {"text": text}})
    assert job["status"] == "succeeded", job
    result = job["result"]
    assert result["article"]["byline"] == "Agence France-Presse"
    assert result["summary"]["text"].startswith("US Secretary of State John Kerry arrived")
    # No title nor claims given: the title found in the text is the claim.
    assert result["article"]["title"] == REFERENCE_TITLE
    assert [s["claim"] for s in result["stance"]] == [REFERENCE_TITLE]
    assert result["stance"][0]["label"] != "unrelated"


def test_html_with_surrounding_whitespace_is_accepted(api, worker):
    html = WHITESPACE + "<html><body><p>The council passed the budget on Monday.</p></body></html>"
    job = run_job(api, {"article": {"html": html}, "tasks": ["summary"]})
    assert job["status"] == "succeeded", job


@pytest.mark.parametrize("field", ["text", "html"])
def test_whitespace_only_is_still_refused_with_a_stable_reason(api, field):
    response = requests.post(
        f"{api.url}/v1/jobs", json={"article": {field: WHITESPACE}}, timeout=10
    )
    assert response.status_code == 422
    body = response.json()
    assert body["reason"] == "validation_error"
    expected = "The article text is empty." if field == "text" else "The HTML is empty."
    assert body["errors"] == {"article": {field: [expected]}}


@pytest.mark.parametrize(
    "text",
    ["hello world", "BREAKING: Quake hits Tokyo\nMore to follow", "Just landed in Sochi! #travel"],
)
def test_a_text_of_short_lines_succeeds_with_its_lines_as_sentences(api, worker, text):
    job = run_job(api, {"article": {"text": text}, "tasks": ["summary"]})
    assert job["status"] == "succeeded", job
    article = job["result"]["article"]
    assert article["text"] == "\n\n".join(text.split("\n"))
    assert article["sentence_count"] == len(text.split("\n"))
    assert job["result"]["summary"]["text"]
