"""The interactive and bulk lanes over a real stack: a Redis, the API under gunicorn and one
worker process of their own."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests

from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess
from jobs.contract import BULK_QUEUE, QUEUE, TERMINAL_STATUSES

pytestmark = pytest.mark.integration

BULK_BATCHES = 3  # of 100 jobs
INTERACTIVE = 5
# The bulk jobs a worker may hold when an interactive job arrives: the one its pool process
# runs and the one in its pipe (worker_prefetch_multiplier 2, worker.pool.PipelinedPool),
# and one it is taking meanwhile: a job's `created_at` is stamped by the API before its
# record and message are written, and on a loaded machine a bulk job may be taken in between
# (seen once in a CI run beside a training job: 3 bulk starts in 42 ms after it).
HELD = 3


def article(i: int) -> dict:
    text = f"Officials in town {i} approved a budget on Monday. It adds money for schools."
    return {"article": {"title": f"Town {i} passes budget", "text": text}, "tasks": ["summary"]}


@pytest.fixture()
def stack(tmp_path: Path) -> Iterator[tuple[ApiProcess, redis.Redis]]:
    server = LocalRedis(tmp_path / "redis")
    server.start()
    worker = WorkerProcess(server.url, tmp_path / "worker.log", name="lanes")
    api = ApiProcess(server.url, free_port(), tmp_path / "api.log", workers=1)
    client = redis.Redis.from_url(server.url)
    try:
        worker.start()
        api.start()
        yield api, client
    finally:
        client.close()
        api.stop()
        worker.stop()
        server.stop()


def wait_ended(api: ApiProcess, job_id: str) -> dict:
    for _ in range(6):
        job = requests.get(f"{api.url}/v1/jobs/{job_id}?wait=30", timeout=40).json()
        if job["status"] in TERMINAL_STATUSES:
            return job
    raise TimeoutError(f"job {job_id} still {job['status']}")


def test_interactive_jobs_overtake_a_queued_bulk_backlog(stack):
    api, client = stack
    bulk_ids = []
    for b in range(BULK_BATCHES):
        jobs = [article(100 * b + i) for i in range(100)]
        response = requests.post(f"{api.url}/v1/batches", json={"jobs": jobs}, timeout=30)
        assert response.status_code == 202, response.text
        bulk_ids += [job["id"] for job in response.json()["jobs"]]
    assert client.llen(BULK_QUEUE) > 0 and client.llen(QUEUE) == 0
    interactive_ids = []
    for i in range(INTERACTIVE):
        response = requests.post(f"{api.url}/v1/jobs", json=article(1000 + i), timeout=30)
        assert response.status_code == 202, response.text
        interactive_ids.append(response.json()["id"])
    interactive = [wait_ended(api, job_id) for job_id in interactive_ids]
    assert {job["status"] for job in interactive} == {"succeeded"}
    assert {job["priority"] for job in interactive} == {"interactive"}

    pipe = client.pipeline(transaction=False)
    for job_id in bulk_ids:
        pipe.hmget(f"newsnlp:job:{job_id}", "started_at", "priority")
    bulk = [(started.decode() if started else None, lane) for started, lane in pipe.execute()]
    assert {lane for _, lane in bulk} == {b"bulk"}
    first_created = min(job["created_at"] for job in interactive)
    last_started = max(job["started_at"] for job in interactive)
    # From the first interactive job's arrival to the last one's start, the worker started
    # only the bulk jobs it already held: the interactive ones went by the backlog, in a row.
    overtaken = [s for s, _ in bulk if s is not None and first_created < s < last_started]
    assert len(overtaken) <= HELD, overtaken
    # And the backlog was there: most bulk jobs had not started when the last one did.
    waiting = [s for s, _ in bulk if s is None or s > last_started]
    assert len(waiting) >= len(bulk_ids) // 2, len(waiting)
    # The bulk lane is not starved: it runs once the interactive lane is empty.
    assert wait_ended(api, bulk_ids[-1])["priority"] == "bulk"


def test_each_lane_has_its_own_caps(tmp_path):
    """A bulk backlog at its cap refuses bulk jobs, never an interactive one."""
    server = LocalRedis(tmp_path / "redis")
    server.start()
    api = ApiProcess(
        server.url, free_port(), tmp_path / "api.log", workers=1, NEWSNLP_MAX_QUEUED_JOBS="3"
    )
    try:
        api.start()
        bulk = [article(i) for i in range(3)]
        batch = requests.post(f"{api.url}/v1/batches", json={"jobs": bulk}, timeout=30)
        assert batch.status_code == 202, batch.text
        refused = requests.post(f"{api.url}/v1/batches", json={"jobs": bulk[:1]}, timeout=30)
        assert refused.status_code == 503 and refused.json()["reason"] == "queue_full"
        bulk_one = {**article(9), "priority": "bulk"}
        refused = requests.post(f"{api.url}/v1/jobs", json=bulk_one, timeout=30)
        assert refused.status_code == 503 and refused.json()["reason"] == "queue_full"
        for i in range(3):
            accepted = requests.post(f"{api.url}/v1/jobs", json=article(10 + i), timeout=30)
            assert accepted.status_code == 202, accepted.text
        refused = requests.post(f"{api.url}/v1/jobs", json=article(20), timeout=30)
        assert refused.status_code == 503 and refused.json()["reason"] == "queue_full"
        metrics = requests.get(f"{api.url}/metrics", timeout=30).text
        assert 'newsnlp_queued_jobs{priority="bulk"} 3.0' in metrics
        assert 'newsnlp_queued_jobs{priority="interactive"} 3.0' in metrics
        assert f'newsnlp_queue_depth{{queue="{BULK_QUEUE}"}} 3.0' in metrics
        # A bulk job that ends (here: canceled) gives its place back to its own lane.
        canceled = requests.delete(api.url + batch.json()["jobs"][0]["links"]["self"], timeout=30)
        assert canceled.json()["status"] == "canceled"
        metrics = requests.get(f"{api.url}/metrics", timeout=30).text
        assert 'newsnlp_queued_jobs{priority="bulk"} 2.0' in metrics
        assert 'newsnlp_queued_jobs{priority="interactive"} 3.0' in metrics
        accepted = requests.post(f"{api.url}/v1/jobs", json=bulk_one, timeout=30)
        assert accepted.status_code == 202 and accepted.json()["status"] == "queued"
        assert (
            requests.get(api.url + accepted.json()["links"]["self"], timeout=30).json()["priority"]
            == "bulk"
        )
        refused = requests.post(f"{api.url}/v1/jobs", json=article(21), timeout=30)
        assert refused.status_code == 503 and refused.json()["reason"] == "queue_full"
    finally:
        api.stop()
        server.stop()


def test_a_stream_of_interactive_jobs_slows_the_bulk_lane_but_never_stops_it(stack):
    """After BULK_EVERY interactive jobs in a row the worker takes a bulk one
    (jobs.broker_transport.LaneCycle): 30 interactive jobs queued at once over a bulk backlog
    let 2 bulk jobs through between them; strict priority lets none."""
    from jobs.broker_transport import BULK_EVERY

    api, client = stack
    bulk = requests.post(
        f"{api.url}/v1/batches", json={"jobs": [article(i) for i in range(50)]}, timeout=30
    )
    assert bulk.status_code == 202, bulk.text
    bulk_ids = [job["id"] for job in bulk.json()["jobs"]]
    burst = 3 * BULK_EVERY
    interactive = requests.post(
        f"{api.url}/v1/batches",
        json={"jobs": [article(1000 + i) for i in range(burst)], "priority": "interactive"},
        timeout=30,
    )
    assert interactive.status_code == 202, interactive.text
    ended = [wait_ended(api, job["id"]) for job in interactive.json()["jobs"]]
    assert {job["status"] for job in ended} == {"succeeded"}
    first_started = min(job["started_at"] for job in ended)
    last_started = max(job["started_at"] for job in ended)
    pipe = client.pipeline(transaction=False)
    for job_id in bulk_ids:
        pipe.hget(f"newsnlp:job:{job_id}", "started_at")
    started = [s.decode() for s in pipe.execute() if s]
    between = [s for s in started if first_started < s < last_started]
    assert len(between) >= burst // (BULK_EVERY + 1), (between, first_started, last_started)
    # and the interactive lane still went first: most of the backlog waited.
    assert len(between) <= burst // BULK_EVERY + HELD, between
