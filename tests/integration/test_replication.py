"""With `NEWSNLP_REDIS_MIN_REPLICAS`, a job counts only once a replica holds it: when no
replica confirms it in time (the replica stopped), the API answers 503
`replication_timeout` with Retry-After and nothing is accepted, and a worker's end of a job
raises `ReplicationTimeout` (its message is requeued, not acknowledged).

A real primary and a real replica (`--replicaof`), the API app over its test client.
"""

from __future__ import annotations

import json
import time

import pytest

from api import create_app
from api.clients import close_clients
from devstack.local_redis import LocalRedis
from devstack.processes import WorkerProcess
from jobs.contract import BULK_QUEUE, QUEUE
from jobs.queue import UNACKED_HASH
from jobs.store import JobStore, ReplicationTimeout
from jobs.telemetry import METRICS_KEY

from .conftest import WEBHOOK_ENV
from .test_webhooks import Receiver

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council passed the budget on Monday."}, "tasks": ["summary"]}


def wait_in_sync(replica: LocalRedis, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while replica.client().info("replication").get("master_link_status") != "up":
        assert time.monotonic() < deadline, "the replica did not sync"
        time.sleep(0.05)


@pytest.fixture()
def pair(tmp_path):
    primary = LocalRedis(tmp_path / "primary")
    replica = LocalRedis(tmp_path / "replica", replica_of=primary.port)
    primary.start()
    replica.start()
    wait_in_sync(replica)
    yield primary, replica
    replica.stop()
    primary.stop()


@pytest.fixture()
def client(pair):
    primary, _ = pair
    app = create_app(
        {"REDIS_URL": primary.url, "REDIS_MIN_REPLICAS": 1, "REDIS_REPLICA_TIMEOUT_MS": 300}
    )
    yield app.test_client()
    close_clients(app)


def test_no_replica_in_time_is_503_and_nothing_accepted(pair, client):
    primary, replica = pair
    accepted = client.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "first"})
    assert accepted.status_code == 202
    # Confirmed by the replica before the 202: it holds the record already.
    assert replica.client().exists(f"newsnlp:job:{accepted.get_json()['id']}")

    replica.stop()
    refused = client.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "second"})
    assert refused.status_code == 503
    body = refused.get_json()
    assert body["reason"] == "replication_timeout"
    assert set(body) == {"code", "status", "reason", "message", "errors"}
    assert refused.headers["Retry-After"]
    batch = client.post("/v1/batches", json={"jobs": [JOB, JOB]})
    assert batch.status_code == 503 and batch.get_json()["reason"] == "replication_timeout"

    # Nothing of the refused job or batch is left on the primary: one job, one message,
    # one counted, no batch, the second key free.
    redis = primary.client()
    assert len(redis.keys("newsnlp:job:*")) == 1
    assert redis.llen(QUEUE) == 1 and redis.llen(BULK_QUEUE) == 0
    assert redis.get("newsnlp:queued:jobs") == b"1"
    assert redis.get("newsnlp:queued:bulk:jobs") in (None, b"0")
    assert not redis.keys("newsnlp:batch:*")
    assert len(redis.keys("newsnlp:idem:*")) == 1
    # Nor in the metrics: what the refused creations counted was taken back with them.
    assert redis.hget(METRICS_KEY, "submitted|summary") == b"1"
    # Nor in the index the sweeper reads (jobs.sweeper).
    assert redis.zcard("newsnlp:pending") == 1

    # With the replica back, the same key makes a new job (not the refused one's ghost).
    replica.start()
    wait_in_sync(replica)
    again = client.post("/v1/jobs", json=JOB, headers={"Idempotency-Key": "second"})
    assert again.status_code == 202
    job_id = again.get_json()["id"]
    assert client.get(f"/v1/jobs/{job_id}").get_json()["status"] == "queued"
    assert redis.llen(QUEUE) == 2


def test_a_worker_end_no_replica_confirmed_raises(pair):
    primary, replica = pair
    store = JobStore(primary.client(), ttl_seconds=60, min_replicas=1, replica_timeout_ms=300)
    store.create("a" * 32, {"tasks": ["summary"]})
    assert store.start("a" * 32).request is not None
    replica.stop()
    with pytest.raises(ReplicationTimeout):
        store.succeed("a" * 32, {"summary": "x"})
    # Written on the primary only: a redelivery must not take the primary's word that the
    # job ended (a failover may lose the end): it is refused until a replica confirms it.
    with pytest.raises(ReplicationTimeout):
        store.start("a" * 32)
    replica.start()
    wait_in_sync(replica)
    assert store.start("a" * 32).status == "succeeded"


def test_an_end_no_replica_confirmed_sends_its_webhook_and_is_acked_once_one_does(pair, tmp_path):
    """A real worker with `NEWSNLP_REDIS_MIN_REPLICAS=1` and its replica stopped: the job
    runs, its end is written but not confirmed, so its message goes back to the queue, and
    the webhook goes at once (the redelivery finds the job ended and sends none). With the
    replica back, the redelivery is acknowledged: the queue is empty."""
    primary, replica = pair
    receiver = Receiver()
    env = {"NEWSNLP_REDIS_MIN_REPLICAS": "1", "NEWSNLP_REDIS_REPLICA_TIMEOUT_MS": "200"}
    hooks = WorkerProcess(
        primary.url, tmp_path / "hooks.log", name="hooks", role="webhook-worker", **WEBHOOK_ENV
    )
    worker = WorkerProcess(primary.url, tmp_path / "worker.log", name="w", **WEBHOOK_ENV, **env)
    app = create_app(
        {"REDIS_URL": primary.url, "WEBHOOKS_ENABLED": True, "WEBHOOK_ALLOWLIST": ("127.0.0.1",)}
    )
    try:
        hooks.start()
        worker.start()
        replica.stop()
        body = {**JOB, "callback_url": receiver.url}
        job_id = app.test_client().post("/v1/jobs", json=body).get_json()["id"]
        receiver.wait(1)
        assert [json.loads(b)["id"] for _, b, _ in receiver.received] == [job_id]
        assert "no replica confirmed its end in time" in worker.read_log()
        redis = primary.client()
        assert redis.hget(f"newsnlp:job:{job_id}", "status") == b"succeeded"

        replica.start()
        wait_in_sync(replica)
        deadline = time.monotonic() + 30
        while redis.llen(QUEUE) or redis.hlen(UNACKED_HASH):
            assert time.monotonic() < deadline, "the message was never acknowledged"
            time.sleep(0.2)
        assert len(receiver.received) == 1
    finally:
        close_clients(app)
        worker.stop()
        hooks.stop()
        receiver.close()
