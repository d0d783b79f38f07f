"""The API's answers to bad input: one error shape, stable reasons, never a 500."""

from __future__ import annotations

import pytest

from api import create_app
from devstack.local_redis import free_port

ERROR_KEYS = {"code", "status", "reason", "message", "errors"}


@pytest.fixture()
def client():
    # A port nothing listens on: requests that reach Redis get the 503 answer.
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "MAX_ARTICLE_CHARS": 1000})
    return app.test_client()


def assert_error(response, status: int, code: str) -> dict:
    body = response.get_json()
    assert response.status_code == status, body
    assert set(body) == ERROR_KEYS
    assert body["status"] == status
    # One contract with a failed job's error.code; `reason` is its old name, kept.
    assert body["code"] == body["reason"] == code
    assert "Traceback" not in response.get_data(as_text=True)
    return body


def test_healthz_is_up_without_redis(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_wrong_content_type_is_415(client):
    response = client.post("/v1/jobs", data="article", content_type="text/plain")
    assert_error(response, 415, "unsupported_media_type")


def test_malformed_json_is_400(client):
    response = client.post("/v1/jobs", data='{"article": ', content_type="application/json")
    assert_error(response, 400, "invalid_json")


def test_body_over_limit_is_413():
    app = create_app({"REDIS_URL": "redis://127.0.0.1:1/0", "MAX_CONTENT_LENGTH": 2048})
    response = app.test_client().post("/v1/jobs", json={"article": {"text": "x" * 5000}})
    assert_error(response, 413, "payload_too_large")


def test_validation_errors_name_each_field(client):
    response = client.post(
        "/v1/jobs",
        json={
            "article": {"text": "   "},
            "tasks": ["summary", "translate"],
            "options": {"summary": {"max_sentences": 0}},
            "colour": "red",
        },
    )
    body = assert_error(response, 422, "validation_error")
    assert body["errors"]["article"]["text"] == ["The article text is empty."]
    assert "1" in body["errors"]["tasks"]
    assert "max_sentences" in body["errors"]["options"]["summary"]
    assert body["errors"]["colour"] == ["Unknown field."]


def test_article_over_configured_chars_is_422(client):
    response = client.post("/v1/jobs", json={"article": {"title": "T", "text": "word " * 300}})
    body = assert_error(response, 422, "validation_error")
    assert "1000" in body["errors"]["article"]["text"][0]


def test_redis_unreachable_is_503_with_retry_after(client):
    response = client.post(
        "/v1/jobs", json={"article": {"title": "A title", "text": "Some text. More text."}}
    )
    assert_error(response, 503, "redis_unavailable")
    assert response.headers["Retry-After"] == "5"
    response = client.get("/v1/jobs/" + "a" * 32)
    assert_error(response, 503, "redis_unavailable")


def test_unknown_route_and_method(client):
    assert_error(client.get("/v2/nothing"), 404, "not_found")
    assert_error(client.delete("/healthz"), 405, "method_not_allowed")


def test_malformed_job_id_is_404_without_touching_redis(client):
    assert_error(client.get("/v1/jobs/not-a-job"), 404, "job_not_found")


def test_http_and_job_errors_share_one_code_contract(client):
    schemas = client.get("/openapi.json").get_json()["components"]["schemas"]
    assert schemas["Error"]["properties"]["code"]["type"] == "string"
    assert schemas["Error"]["properties"]["status"]["type"] == "integer"
    assert schemas["JobError"]["properties"]["code"]["type"] == "string"
