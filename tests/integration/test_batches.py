"""Batches of jobs through the real queue."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration


def article(i: int) -> dict:
    text = f"Officials in town {i} approved a budget on Monday. It adds money for schools."
    return {"article": {"title": f"Town {i} passes budget", "text": text}}


def test_batch_runs_every_job_and_reports_progress(client, worker):
    response = client.post("/v1/batches", json={"jobs": [article(i) for i in range(5)]})
    assert response.status_code == 202, response.get_json()
    batch = response.get_json()
    assert batch["total"] == 5 and len(batch["jobs"]) == 5
    assert response.headers["Location"] == batch["links"]["self"]
    deadline = time.monotonic() + 60
    while not batch["done"] and time.monotonic() < deadline:
        time.sleep(0.2)
        batch = client.get(batch["links"]["self"]).get_json()
    assert batch["done"]
    assert batch["counts"]["succeeded"] == 5
    job = client.get(batch["jobs"][0]["links"]["self"]).get_json()
    assert job["result"]["stance"][0]["claim"] == "Town 0 passes budget"


def test_one_bad_job_rejects_the_batch_and_queues_nothing(client, redis_client):
    # Which records exist, not how many: a record of an earlier test may expire meanwhile.
    before = set(redis_client.scan_iter(match="newsnlp:job:*"))
    jobs = [article(1), {"article": {"text": ""}}, article(2)]
    response = client.post("/v1/batches", json={"jobs": jobs})
    assert response.status_code == 422
    assert "1" in response.get_json()["errors"]["jobs"]
    assert set(redis_client.scan_iter(match="newsnlp:job:*")) - before == set()  # none made


def test_batch_limits(client):
    too_many = client.post("/v1/batches", json={"jobs": [article(i) for i in range(101)]})
    assert too_many.status_code == 422
    assert client.post("/v1/batches", json={"jobs": []}).status_code == 422
    assert client.get("/v1/batches/" + "0" * 32).status_code == 404
