"""JobRequest: the request as the API records it and the worker reads it back."""

from __future__ import annotations

import pytest

from api.schemas import JobCreateSchema
from jobs.contract import Priority
from jobs.request import JobRequest
from worker.tasks import analysis_request

SUBMITTED = [
    {"article": {"title": "Kerry arrives in Russia", "text": "Text."}},
    {"article": {"text": "Text."}, "claims": ["a claim"], "tasks": ["stance"]},
    {"article": {"html": "<p>Text.</p>"}, "options": {"summary": {"max_words": 50}}},
    {"article": {"text": "Text."}, "tasks": ["summary"], "priority": "bulk"},
    {"article": {"text": "Text."}, "callback_url": "https://example.org/hook", "claims": []},
]


@pytest.mark.parametrize("body", SUBMITTED)
def test_the_recorded_dict_is_the_schemas_own(body):
    # The record's request (and so an Idempotency-Key's request hash) is what it was.
    data = JobCreateSchema().load(body)
    data["priority"] = data["priority"] or "interactive"
    assert JobRequest.from_dict(data).to_dict() == data


def test_a_record_of_an_older_api_still_reads():
    job = JobRequest.from_dict({"article": {"text": "Text."}, "tasks": ["summary"], "claims": None})
    assert job == JobRequest(tasks=("summary",), text="Text.", priority=Priority.INTERACTIVE)


def test_the_worker_reads_the_request_it_was_given():
    data = JobCreateSchema().load(SUBMITTED[2])
    request = analysis_request(JobRequest.from_dict(data))
    assert (request.html, request.text, request.summary.max_words) == ("<p>Text.</p>", None, 50)
    assert request.tasks == frozenset({"summary", "stance"}) and request.claims == ()
