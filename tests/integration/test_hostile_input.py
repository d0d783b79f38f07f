"""Hostile and broken input over real HTTP to gunicorn: each a clear 4xx with a stable
reason, nothing stored for it, and the API still answering afterwards."""

from __future__ import annotations

import json

import pytest
import requests

pytestmark = pytest.mark.integration

OK_ARTICLE = {"title": "Council passes budget", "text": "The council passed the budget."}
JSON = {"Content-Type": "application/json"}


def body(**overrides) -> dict:
    return {"article": dict(OK_ARTICLE), **overrides}


CASES = [
    # (name, method, path, kwargs for requests, status, reason)
    ("not json", "POST", "/v1/jobs", {"data": "hello", "headers": {"Content-Type": "text/plain"}}, 415, "unsupported_media_type"),
    ("no content type", "POST", "/v1/jobs", {"data": json.dumps(body())}, 415, "unsupported_media_type"),
    ("xml content type", "POST", "/v1/jobs", {"data": "<a/>", "headers": {"Content-Type": "application/xml"}}, 415, "unsupported_media_type"),
    ("binary bytes", "POST", "/v1/jobs", {"data": bytes(range(256)), "headers": {"Content-Type": "application/octet-stream"}}, 415, "unsupported_media_type"),
    ("binary bytes as json", "POST", "/v1/jobs", {"data": bytes(range(256)), "headers": JSON}, 400, "invalid_json"),
    ("empty body", "POST", "/v1/jobs", {"data": b"", "headers": JSON}, 400, "invalid_json"),
    ("truncated json", "POST", "/v1/jobs", {"data": '{"article": {"text": "x"', "headers": JSON}, 400, "invalid_json"),
    ("invalid utf-8", "POST", "/v1/jobs", {"data": b'{"article": {"text": "\xff\xfe\xfd"}}', "headers": JSON}, 400, "invalid_json"),
    ("deeply nested json", "POST", "/v1/jobs", {"data": "[" * 200_000 + "]" * 200_000, "headers": JSON}, 400, "invalid_json"),
    ("json null", "POST", "/v1/jobs", {"data": "null", "headers": JSON}, 422, "validation_error"),
    ("json list", "POST", "/v1/jobs", {"json": [body()]}, 422, "validation_error"),
    ("json string", "POST", "/v1/jobs", {"json": "an article"}, 422, "validation_error"),
    ("json number", "POST", "/v1/jobs", {"json": 42}, 422, "validation_error"),
    ("no article", "POST", "/v1/jobs", {"json": {"claims": ["abc"]}}, 422, "validation_error"),
    ("article not an object", "POST", "/v1/jobs", {"json": {"article": "text"}}, 422, "validation_error"),
    ("empty text", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": ""}}}, 422, "validation_error"),
    ("whitespace text", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": " \n\t "}}}, 422, "validation_error"),
    ("null text", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": None}}}, 422, "validation_error"),
    ("text is a number", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": 12}}}, 422, "validation_error"),
    ("text over the limit", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": "word " * 50_000}}}, 422, "validation_error"),
    ("10 MB body", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": "x" * 10_000_000}}}, 413, "payload_too_large"),
    ("NUL bytes", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": "a\x00b"}}}, 422, "validation_error"),
    ("lone surrogate", "POST", "/v1/jobs", {"data": '{"article": {"title": "T", "text": "a\\ud800b"}}', "headers": JSON}, 422, "validation_error"),
    ("both text and html", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "text": "x", "html": "<p>x</p>"}}}, 422, "validation_error"),
    ("neither text nor html", "POST", "/v1/jobs", {"json": {"article": {"title": "T"}}}, 422, "validation_error"),
    ("html of scripts only", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "html": "<html><head><title>x</title></head><body><script>alert(1)</script><style>p{}</style></body></html>"}}}, 422, "validation_error"),
    ("empty html", "POST", "/v1/jobs", {"json": {"article": {"title": "T", "html": "  "}}}, 422, "validation_error"),
    ("unknown top field", "POST", "/v1/jobs", {"json": body(priority="high")}, 422, "validation_error"),
    ("unknown article field", "POST", "/v1/jobs", {"json": {"article": {**OK_ARTICLE, "author": "x"}}}, 422, "validation_error"),
    ("title too long", "POST", "/v1/jobs", {"json": {"article": {"title": "t" * 1001, "text": "x"}}}, 422, "validation_error"),
    ("title an object", "POST", "/v1/jobs", {"json": {"article": {"title": {"a": 1}, "text": "x"}}}, 422, "validation_error"),
    ("10,000 claims", "POST", "/v1/jobs", {"json": body(claims=[f"claim number {i}" for i in range(10_000)])}, 422, "validation_error"),
    ("10,000-char claim", "POST", "/v1/jobs", {"json": body(claims=["c" * 10_000])}, 422, "validation_error"),
    ("2-char claim", "POST", "/v1/jobs", {"json": body(claims=["ab"])}, 422, "validation_error"),
    ("claims not a list", "POST", "/v1/jobs", {"json": body(claims="a claim")}, 422, "validation_error"),
    ("claim not a string", "POST", "/v1/jobs", {"json": body(claims=[123])}, 422, "validation_error"),
    ("unknown task", "POST", "/v1/jobs", {"json": body(tasks=["translate"])}, 422, "validation_error"),
    ("no tasks", "POST", "/v1/jobs", {"json": body(tasks=[])}, 422, "validation_error"),
    ("max_sentences 0", "POST", "/v1/jobs", {"json": body(options={"summary": {"max_sentences": 0}})}, 422, "validation_error"),
    ("max_sentences as string", "POST", "/v1/jobs", {"json": body(options={"summary": {"max_sentences": "3"}})}, 422, "validation_error"),
    ("max_words 1e999", "POST", "/v1/jobs", {"data": '{"article": {"title": "T", "text": "x"}, "options": {"summary": {"max_words": 1e999}}}', "headers": JSON}, 422, "validation_error"),
    ("both length options", "POST", "/v1/jobs", {"json": body(options={"summary": {"max_sentences": 2, "max_words": 40}})}, 422, "validation_error"),
    ("unknown option", "POST", "/v1/jobs", {"json": body(options={"stance": {"k": 3}})}, 422, "validation_error"),
    ("idempotency key too long", "POST", "/v1/jobs", {"json": body(), "headers": {"Idempotency-Key": "k" * 201}}, 422, "validation_error"),
    ("unknown job", "GET", "/v1/jobs/" + "0" * 32, {}, 404, "job_not_found"),
    ("malformed job id", "GET", "/v1/jobs/../../etc/passwd", {}, 404, "not_found"),
    ("job id with sql", "GET", "/v1/jobs/1' OR '1'='1", {}, 404, "job_not_found"),
    ("negative wait", "GET", "/v1/jobs/" + "0" * 32 + "?wait=-1", {}, 422, "validation_error"),
    ("wait not a number", "GET", "/v1/jobs/" + "0" * 32 + "?wait=soon", {}, 422, "validation_error"),
    ("cancel unknown job", "DELETE", "/v1/jobs/" + "0" * 32, {}, 404, "job_not_found"),
    ("PUT on jobs", "PUT", "/v1/jobs", {"json": body()}, 405, "method_not_allowed"),
    ("unknown route", "GET", "/v1/nothing", {}, 404, "not_found"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "reason"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_bad_input_gets_a_clear_4xx(api, redis_client, method, path, kwargs, status, reason):
    # Which records exist, not how many: a record of an earlier test may expire meanwhile.
    jobs_before = set(redis_client.scan_iter(match="newsnlp:job:*"))
    response = requests.request(method, api.url + path, timeout=30, **kwargs)
    assert response.status_code == status, response.text[:500]
    payload = response.json()
    assert set(payload) == {"code", "status", "reason", "message", "errors"}
    assert payload["status"] == status
    assert payload["code"] == payload["reason"] == reason
    assert "Traceback" not in response.text
    assert set(redis_client.scan_iter(match="newsnlp:job:*")) - jobs_before == set()  # none made
    assert requests.get(api.url + "/healthz", timeout=5).status_code == 200


def test_the_matrix_is_large_enough():
    assert len(CASES) >= 30


def test_one_long_unpunctuated_sentence_is_accepted_and_analysed(api, worker):
    text = " ".join(f"word{i % 997}" for i in range(15_000))  # ~100 kB, no punctuation
    response = requests.post(
        api.url + "/v1/jobs", json={"article": {"text": text}, "tasks": ["summary"]}, timeout=10
    )
    assert response.status_code == 202
    job = requests.get(f"{api.url}/v1/jobs/{response.json()['id']}?wait=60", timeout=70).json()
    assert job["status"] == "succeeded", job
    assert 0 < len(job["result"]["summary"]["text"]) < len(text)
