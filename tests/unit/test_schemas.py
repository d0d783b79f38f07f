"""The job schema: defaults, limits and normalisation of a submitted job."""

from __future__ import annotations

import marshmallow as ma
import pytest

from api.schemas import JobCreateSchema


def load(data: dict) -> dict:
    return JobCreateSchema().load(data)


def test_defaults_run_both_tasks_with_the_title_as_claim():
    job = load({"article": {"title": "  Kerry arrives in Russia  ", "text": "Text."}})
    assert job["tasks"] == ["summary", "stance"]
    assert job["claims"] == ["Kerry arrives in Russia"]
    assert job["options"] == {"summary": {}}


def test_claims_are_trimmed_and_kept_in_order():
    job = load({"article": {"text": "Text."}, "claims": ["  second claim ", "first claim"]})
    assert job["claims"] == ["second claim", "first claim"]


def test_without_claim_nor_title_the_claim_is_left_to_the_title_found_in_the_text():
    job = load({"article": {"text": "Text."}})
    assert job["tasks"] == ["summary", "stance"]
    assert job["claims"] == []


WHITESPACE = ["\n", "  ", "\t", "\r\n", "\u00a0", "\u2003", "\u3000", "\u2028", "\x0b\x0c"]


@pytest.mark.parametrize("space", WHITESPACE)
def test_text_and_html_may_start_and_end_with_any_whitespace(space):
    job = load({"article": {"text": f"{space}Agence France-Presse\nText.{space}"}})
    assert job["article"]["text"] == f"{space}Agence France-Presse\nText.{space}"
    load({"article": {"html": f"{space}<p>Text.</p>{space}"}})


@pytest.mark.parametrize("field", ["text", "html"])
def test_text_or_html_of_whitespace_only_is_empty(field):
    with pytest.raises(ma.ValidationError) as info:
        load({"article": {field: "".join(WHITESPACE)}})
    expected = "The article text is empty." if field == "text" else "The HTML is empty."
    assert info.value.messages == {"article": {field: [expected]}}


def test_summary_only_needs_no_claim():
    job = load({"article": {"text": "Text."}, "tasks": ["summary"]})
    assert job["claims"] == []


def test_tasks_are_put_in_canonical_order():
    job = load({"article": {"text": "T."}, "tasks": ["stance", "summary"], "claims": ["abc"]})
    assert job["tasks"] == ["summary", "stance"]


def summary_job(**options: int) -> dict:
    return {"article": {"text": "T."}, "tasks": ["summary"], "options": {"summary": options}}


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"article": {"text": "Text."}, "tasks": ["stance"]}, "claims"),  # nothing to judge
        ({"article": {"text": "Text."}, "claims": ["ab"]}, "claims"),
        ({"article": {"text": "Text."}, "claims": ["x" * 501]}, "claims"),
        ({"article": {"text": "Text."}, "tasks": []}, "tasks"),
        (summary_job(max_words=5), "options"),
        (summary_job(max_words=301), "options"),
        (summary_job(max_sentences=11), "options"),
        (summary_job(max_sentences=2, max_words=50), "options"),
        ({"article": {"title": "T"}}, "article"),
        ({"article": "just a string"}, "article"),
    ],
)  # fmt: skip
def test_invalid_jobs_are_rejected(data, field):
    with pytest.raises(ma.ValidationError) as info:
        load(data)
    assert field in info.value.messages
