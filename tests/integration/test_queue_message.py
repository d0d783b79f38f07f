"""The API's queue message is Celery's own, and a job is recorded exactly when it is queued."""

from __future__ import annotations

import base64
import json

import pytest
import redis

from api import create_app
from api.clients import close_clients
from devstack.local_redis import LocalRedis
from jobs.broker import celery_config, create_celery
from jobs.contract import ANALYZE_TASK, QUEUE
from jobs.queue import task_message
from jobs.telemetry import METRICS_KEY

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council approved the budget on Monday."}, "tasks": ["summary"]}


def _decoded(raw: bytes) -> dict:
    message = json.loads(raw)
    message["body"] = json.loads(base64.b64decode(message["body"]))
    return message


def test_the_message_is_the_one_kombu_writes_for_the_same_task(redis_server, redis_client):
    app = create_celery("newsnlp-api", celery_config(redis_server.url))
    queue = "contract-test"
    try:
        app.send_task(ANALYZE_TASK, args=["c" * 32], task_id="c" * 32, queue=queue)
        theirs = _decoded(redis_client.rpop(queue))
        ours = _decoded(task_message(app, ANALYZE_TASK, "c" * 32, ["c" * 32], queue).encode())
    finally:
        app.close()
        redis_client.delete(queue)
    # A fresh tag per message, as kombu makes one per publish.
    assert ours["properties"].pop("delivery_tag") != theirs["properties"].pop("delivery_tag")
    assert ours == theirs
    assert ours["properties"]["delivery_info"] == {"exchange": "", "routing_key": queue}


@pytest.fixture()
def lone_redis(tmp_path):
    """A Redis of its own, that no worker consumes: queued messages stay where they are."""
    server = LocalRedis(tmp_path / "redis")
    server.start()
    yield server
    server.stop()


def test_a_job_is_recorded_queued_and_counted_together(lone_redis):
    app = create_app({"REDIS_URL": lone_redis.url, "TESTING": True})
    client = redis.Redis.from_url(lone_redis.url)
    try:
        api = app.test_client()
        first = api.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "k1"})
        again = api.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "k1"})
        both = {**JOB, "tasks": ["summary", "stance"], "claims": ["The budget was approved"]}
        other = api.post("/v1/jobs", json=both)
        assert (first.status_code, again.status_code) == (202, 200)
        job_ids = [first.get_json()["id"], other.get_json()["id"]]
        # One message per created job (none for the repeated key), oldest at the tail.
        messages = [_decoded(raw) for raw in reversed(client.lrange(QUEUE, 0, -1))]
        assert [m["headers"]["id"] for m in messages] == job_ids
        assert [m["body"][0] for m in messages] == [[job_id] for job_id in job_ids]
        assert all(m["headers"]["task"] == ANALYZE_TASK for m in messages)
        for job_id in job_ids:
            assert client.hget(f"newsnlp:job:{job_id}", "status") == b"queued"
        counters = client.hgetall(METRICS_KEY)
        assert counters[b"submitted|summary"] == b"2"
        assert counters[b"submitted|stance"] == b"1"
    finally:
        client.close()
        close_clients(app)


def test_redis_down_at_submission_leaves_no_record_and_no_message(lone_redis):
    app = create_app({"REDIS_URL": lone_redis.url, "TESTING": True})
    client = redis.Redis.from_url(lone_redis.url)
    try:
        api = app.test_client()
        lone_redis.stop()
        response = api.post("/v1/jobs", json=JOB)
        assert response.status_code == 503
        lone_redis.start()
        assert client.llen(QUEUE) == 0
        assert list(client.scan_iter("newsnlp:job:*")) == []
    finally:
        client.close()
        close_clients(app)
