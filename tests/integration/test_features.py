"""Long-poll, cancel, idempotency, readiness and metrics against a real Redis and worker."""

from __future__ import annotations

import time

import pytest

from jobs.store import JobStore
from tests.integration.conftest import wait_for_job

pytestmark = pytest.mark.integration

TEXT = (
    "The city council approved the new budget on Monday. "
    "It raises spending on schools by ten percent. "
    "Critics said the plan ignores road repairs."
)


def test_wait_returns_as_soon_as_the_job_ends(client, worker):
    job_id = client.post("/v1/jobs", json={"article": {"text": TEXT}, "tasks": ["summary"]}).json[
        "id"
    ]
    t0 = time.monotonic()
    body = client.get(f"/v1/jobs/{job_id}?wait=30").get_json()
    assert body["status"] == "succeeded"
    assert time.monotonic() - t0 < 20


def test_post_with_wait_answers_the_ended_job(client, worker):
    job = {"article": {"text": TEXT}, "tasks": ["summary"]}
    response = client.post("/v1/jobs?wait=30", json=job)
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "succeeded"
    assert body["result"]["summary"]["sentences"]
    assert response.headers["Location"] == body["links"]["self"] == f"/v1/jobs/{body['id']}"
    assert client.get(body["links"]["self"]).get_json() == body


def test_post_with_wait_answers_202_when_the_job_has_not_ended(tmp_path):
    from api import create_app
    from api.clients import close_clients
    from devstack.local_redis import LocalRedis

    server = LocalRedis(tmp_path / "redis")  # no worker on this one: the job stays queued
    server.start()
    app = create_app({"REDIS_URL": server.url, "TESTING": True})
    try:
        t0 = time.monotonic()
        job = {"article": {"text": TEXT}, "tasks": ["summary"]}
        response = app.test_client().post("/v1/jobs?wait=0.5", json=job)
        assert 0.45 <= time.monotonic() - t0 < 5
        assert response.status_code == 202
        body = response.get_json()
        assert body["status"] == "queued"
        assert response.headers["Location"] == body["links"]["self"]
        assert app.test_client().post("/v1/jobs?wait=61", json=job).status_code == 422
    finally:
        close_clients(app)
        server.stop()


def test_post_with_wait_gives_the_job_id_when_redis_fails_during_the_wait(
    app, client, redis_client, monkeypatch
):
    import redis

    def unreachable(job_id: str, timeout: float) -> None:
        raise redis.exceptions.ConnectionError("Redis went away during the wait")

    # Redis fails after the job is recorded and queued, while the request waits on it.
    monkeypatch.setattr(app.extensions["newsnlp"].store, "wait", unreachable)
    job = {"article": {"text": TEXT}, "tasks": ["summary"]}
    response = client.post("/v1/jobs?wait=5", json=job)
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "queued"
    assert response.headers["Location"] == body["links"]["self"]
    # The client has the id of a job that exists (not a 503 for a job it cannot name).
    assert JobStore(redis_client, ttl_seconds=60).get(body["id"]) is not None


def test_wait_is_validated(client):
    response = client.get(f"/v1/jobs/{'0' * 32}?wait=999")
    assert response.status_code == 422
    assert "wait" in response.get_json()["errors"]


def test_wait_answers_after_the_wait_when_the_job_has_not_ended(client, redis_client):
    # A job nobody runs: recorded by the store only, no message sent.
    JobStore(redis_client, ttl_seconds=60).create("d" * 32, {"tasks": ["summary"]})
    t0 = time.monotonic()
    body = client.get(f"/v1/jobs/{'d' * 32}?wait=1").get_json()
    assert body["status"] == "queued"
    assert 0.9 <= time.monotonic() - t0 < 5


def test_cancel_a_queued_job_and_it_never_runs(client, redis_client):
    from jobs.telemetry import METRICS_KEY

    def canceled() -> int:
        return int(redis_client.hget(METRICS_KEY, "ended|summary|canceled") or 0)

    store = JobStore(redis_client, ttl_seconds=60)
    store.create("c" * 32, {"article": {"text": TEXT}, "tasks": ["summary"], "claims": []})
    before = canceled()
    response = client.delete(f"/v1/jobs/{'c' * 32}")
    assert response.status_code == 200
    assert response.get_json()["status"] == "canceled"
    assert canceled() == before + 1
    assert store.start("c" * 32).request is None  # a worker receiving it skips it
    again = client.delete(f"/v1/jobs/{'c' * 32}")
    assert again.status_code == 409
    assert again.get_json()["reason"] == "job_already_ended"
    assert canceled() == before + 1  # counted once, when it was canceled
    assert client.delete(f"/v1/jobs/{'0' * 32}").status_code == 404


def test_cancel_after_success_is_409(client, worker):
    job_id = client.post("/v1/jobs", json={"article": {"text": TEXT}, "tasks": ["summary"]}).json[
        "id"
    ]
    assert wait_for_job(client, job_id)["status"] == "succeeded"
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 409


def test_idempotency_key_returns_the_same_job(client, worker):
    job = {"article": {"text": TEXT}, "tasks": ["summary"]}
    headers = {"Idempotency-Key": f"key-{time.time()}"}
    first = client.post("/v1/jobs", json=job, headers=headers)
    assert first.status_code == 202
    second = client.post("/v1/jobs", json=job, headers=headers)
    assert second.status_code == 200
    assert second.get_json()["id"] == first.get_json()["id"]
    # The job itself, as GET shows it (not only its id and status).
    assert {"created_at", "attempts", "result", "links"} <= second.get_json().keys()
    other_job = {"article": {"text": TEXT + " Another sentence."}, "tasks": ["summary"]}
    other = client.post("/v1/jobs", json=other_job, headers=headers)
    assert other.status_code == 409
    assert other.get_json()["reason"] == "idempotency_key_reused"
    assert client.post("/v1/jobs", json=job).get_json()["id"] != first.get_json()["id"]


def test_readyz_sees_the_live_worker(client, worker):
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        response = client.get("/readyz")
        if response.status_code == 200:
            break
        time.sleep(0.5)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["workers"]


def test_readyz_without_a_worker_is_503(tmp_path):
    from api import create_app
    from api.clients import close_clients
    from devstack.local_redis import LocalRedis

    server = LocalRedis(tmp_path / "redis")
    server.start()
    try:
        app = create_app({"REDIS_URL": server.url})
        response = app.test_client().get("/readyz")
        assert response.status_code == 503
        assert response.get_json()["reason"] == "no_worker"
        optional = app.test_client().get("/readyz?workers=optional")
        assert optional.status_code == 200
        assert optional.get_json()["workers"] == []
        close_clients(app)
    finally:
        server.stop()


def test_metrics_count_jobs_and_time_the_models(client, worker):
    job_id = client.post("/v1/jobs", json={"article": {"text": TEXT}, "tasks": ["summary"]}).json[
        "id"
    ]
    wait_for_job(client, job_id)
    text = client.get("/metrics").get_data(as_text=True)
    assert 'newsnlp_jobs_submitted_total{task="summary"}' in text
    assert 'newsnlp_jobs_ended_total{status="succeeded",task="summary"}' in text
    assert "newsnlp_queue_depth" in text
    assert 'newsnlp_model_seconds_bucket{le="+Inf",stage="embed"}' in text
    assert "newsnlp_job_duration_seconds_count" in text


# What each lane's caps count (jobs.store.JobStore.lane_counters).
COUNTERS = {
    b"newsnlp:queued:jobs",
    b"newsnlp:queued:bytes",
    b"newsnlp:queued:bulk:jobs",
    b"newsnlp:queued:bulk:bytes",
}


def test_every_key_of_ours_expires(client, worker, redis_client):
    job_id = client.post(
        "/v1/jobs",
        json={"article": {"text": TEXT}, "tasks": ["summary"]},
        headers={"Idempotency-Key": f"ttl-{time.time()}"},
    ).json["id"]
    wait_for_job(client, job_id)
    assert redis_client.zscore("newsnlp:pending", job_id) is None  # it left as it ended
    for key in redis_client.scan_iter(match="newsnlp:*"):
        if key == b"newsnlp:metrics" or key in COUNTERS:
            continue  # counters live as long as Redis does, like Prometheus counters
        if key == b"newsnlp:pending":
            continue  # the index of jobs not ended (jobs.sweeper): each leaves it as it ends
        assert redis_client.ttl(key) > 0, key


def _wait_in_thread(store, job_id, timeout):
    """Start `store.wait(job_id, timeout)` in a thread; returns (thread, outcome dict)."""
    import threading

    outcome = {}

    def run():
        outcome["record"] = store.wait(job_id, timeout)
        outcome["at"] = time.monotonic()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


@pytest.mark.parametrize("ending", ["succeed", "fail", "cancel", "worker_lost"])
def test_a_waiting_client_is_told_when_the_job_ends(redis_client, ending):
    # A re-read only every 60 s: the answer within seconds can only come from the message
    # that the ending script publishes.
    store = JobStore(redis_client, ttl_seconds=60, max_attempts=1, wait_recheck_seconds=60)
    job_id = {"succeed": "1", "fail": "2", "cancel": "3", "worker_lost": "4"}[ending] * 32
    store.create(job_id, {"tasks": ["summary"]})
    if ending == "worker_lost":
        store.start(job_id)  # the one allowed start; the next one fails the job
    thread, outcome = _wait_in_thread(store, job_id, timeout=50)
    time.sleep(0.5)
    assert thread.is_alive()  # still waiting: the job has not ended
    ended_at = time.monotonic()
    {
        "succeed": lambda: store.succeed(job_id, {"summary": None}),
        "fail": lambda: store.fail(job_id, "x", "y"),
        "cancel": lambda: store.cancel(job_id),
        "worker_lost": lambda: store.start(job_id),
    }[ending]()
    thread.join(timeout=55)
    expected = {"succeed": "succeeded", "cancel": "canceled"}.get(ending, "failed")
    assert outcome["record"].status == expected
    assert outcome["at"] - ended_at < 5


def test_a_lost_message_costs_one_recheck_not_the_answer(redis_client):
    store = JobStore(redis_client, ttl_seconds=60, wait_recheck_seconds=0.5)
    store.create("5" * 32, {"tasks": ["summary"]})
    thread, outcome = _wait_in_thread(store, "5" * 32, timeout=30)
    time.sleep(0.3)
    # Ended without a message (as if it were lost with a Redis restart).
    redis_client.hset(store.key("5" * 32), "status", "succeeded")
    thread.join(timeout=35)
    assert outcome["record"].status == "succeeded"


def test_wait_on_an_ended_or_unknown_job_answers_at_once(redis_client):
    store = JobStore(redis_client, ttl_seconds=60, wait_recheck_seconds=60)
    store.create("6" * 32, {"tasks": ["summary"]})
    store.succeed("6" * 32, {"summary": None})
    t0 = time.monotonic()
    assert store.wait("6" * 32, timeout=30).status == "succeeded"
    assert store.wait("7" * 32, timeout=30) is None
    assert time.monotonic() - t0 < 5


def test_histograms_read_back_cumulative_from_one_bucket_per_observation(redis_client):
    from jobs.telemetry import METRICS_KEY, Telemetry, ended_increments, histograms

    telemetry = Telemetry(redis_client)
    store = JobStore(redis_client, ttl_seconds=60)
    for n, value in enumerate((0.03, 0.07, 0.07, 0.1, 200.0)):
        job_id = f"histogram-test-{n}"  # not a job id the API would take
        store.create(job_id, {"tasks": ["histogram_test"]})
        ended = ended_increments(["histogram_test"], "succeeded", None, {"histogram_test": value})
        assert store.succeed(job_id, {"summary": None}, ended)
    try:
        snapshot = telemetry.snapshot()
        hist = histograms(snapshot, "model")["histogram_test"]
        assert snapshot["ended|histogram_test|succeeded"] == "5"
    finally:
        redis_client.hdel(METRICS_KEY, *[k for k in snapshot if "histogram_test" in k])
    assert hist.buckets["0.05"] == 1
    assert hist.buckets["0.1"] == 4  # 0.1 itself is in the bucket "<= 0.1"
    assert hist.buckets["120.0"] == 4
    assert hist.buckets["+Inf"] == hist.count == 5
    assert hist.total == pytest.approx(200.27)


def test_waits_keep_one_subscriber_per_thread_and_survive_a_redis_restart(tmp_path):
    import redis as redis_lib

    from devstack.local_redis import LocalRedis

    server = LocalRedis(tmp_path / "redis")
    server.start()
    try:
        client = redis_lib.Redis.from_url(server.url)
        store = JobStore(client, ttl_seconds=60, wait_recheck_seconds=60)

        def wait_on_a_job_that_ends(job_id):
            store.create(job_id, {"tasks": ["summary"]})
            # In a thread of its own each time: the test's thread keeps its subscriber.
            thread, outcome = _wait_in_thread(store, job_id, timeout=20)
            time.sleep(0.2)
            store.succeed(job_id, {"summary": None})
            thread.join(timeout=30)
            return outcome["record"].status

        assert wait_on_a_job_that_ends("a" * 32) == "succeeded"
        clients = len(client.client_list())
        for n in range(5):
            assert store.wait(str(n) * 32, timeout=0.05) is None  # unknown: no record
        assert len(client.client_list()) == clients  # no new connection per wait
        server.stop()
        server.start()
        assert store.wait("9" * 32, timeout=0.05) is None  # reconnected
        assert wait_on_a_job_that_ends("b" * 32) == "succeeded"
    finally:
        server.stop()
