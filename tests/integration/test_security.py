"""API keys and the per-client rate limit, against a real Redis."""

from __future__ import annotations

import hashlib
import time

import pytest

from api import create_app
from api.clients import close_clients
from api.security import parse_api_keys

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council passed the budget."}, "tasks": ["summary"]}


@pytest.fixture()
def secured(redis_server):
    digest = hashlib.sha256(b"s3cret-key").hexdigest()
    app = create_app(
        {
            "REDIS_URL": redis_server.url,
            "API_KEYS": parse_api_keys(f"newsroom={digest}"),
            "RATE_LIMIT_PER_MINUTE": 5,
        }
    )
    yield app.test_client()
    close_clients(app)


def test_no_key_is_401_and_a_wrong_key_is_403(secured):
    response = secured.post("/v1/jobs", json=JOB)
    assert response.status_code == 401
    assert response.get_json()["reason"] == "missing_api_key"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    response = secured.post("/v1/jobs", json=JOB, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 403
    assert response.get_json()["reason"] == "invalid_api_key"


def test_a_good_key_is_accepted_and_health_stays_open(secured):
    response = secured.post("/v1/jobs", json=JOB, headers={"X-API-Key": "s3cret-key"})
    assert response.status_code == 202
    assert secured.get("/healthz").status_code == 200


def test_rate_limit_is_429_with_retry_after(secured, redis_client):
    headers = {"Authorization": "Bearer s3cret-key"}
    for _ in range(3):  # again if the minute window turned over mid-test
        for key in redis_client.scan_iter(match="newsnlp:rate:newsroom:*"):
            redis_client.delete(key)
        minute = time.time() // 60
        codes = [secured.get(f"/v1/jobs/{'0' * 32}", headers=headers).status_code for _ in range(7)]
        if time.time() // 60 == minute:
            break
    assert codes[:5] == [404] * 5
    assert codes[5:] == [429, 429]
    response = secured.get(f"/v1/jobs/{'0' * 32}", headers=headers)
    assert response.get_json()["reason"] == "rate_limited"
    assert 1 <= int(response.headers["Retry-After"]) <= 60


def test_keys_must_be_digests():
    with pytest.raises(ValueError, match="SHA-256"):
        parse_api_keys("newsroom=plaintext-key")


def test_behind_a_proxy_the_limit_counts_each_forwarded_client(redis_server):
    app = create_app(
        {"REDIS_URL": redis_server.url, "RATE_LIMIT_PER_MINUTE": 2, "TRUSTED_PROXIES": 1}
    )
    client = app.test_client()
    url = f"/v1/jobs/{'0' * 32}"
    for _ in range(3):  # again if the minute window turned over mid-test
        minute = time.time() // 60
        stamp = f"{time.time():.6f}"
        clients = ["a", "b", "a", "b", "a"]
        codes = [
            client.get(url, headers={"X-Forwarded-For": f"{name}-{stamp}"}).status_code
            for name in clients
        ]
        if time.time() // 60 == minute:
            break
    # Two clients behind one proxy: each has its own budget of 2; the 3rd of "a" is refused.
    assert codes == [404, 404, 404, 404, 429]
    close_clients(app)
