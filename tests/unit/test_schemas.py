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


def test_without_claim_nor_title_the_default_is_summary_only():
    job = load({"article": {"text": "Text."}})
    assert job["tasks"] == ["summary"]
    assert job["claims"] == []


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
