"""Redis out of memory (its `maxmemory` reached, `noeviction`): the API refuses with 503 and
Retry-After, /readyz turns 503, the worker keeps running, and every accepted job ends.

A real Redis of its own, a real worker and the API under gunicorn, over HTTP.
"""

from __future__ import annotations

import time
import uuid

import pytest
import redis
import requests

from devstack.local_redis import LocalRedis, fill_to_maxmemory, free_filler, free_port
from devstack.processes import ApiProcess, WorkerProcess
from jobs.contract import TERMINAL_STATUSES
from jobs.store import JobStore

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council passed the budget on Monday. Schools get more money."},
       "tasks": ["summary"]}  # fmt: skip
# Jobs long enough (a few hundred ms each) that some are still queued when Redis fills up.
LONG_TEXT = " ".join(
    f"The council of district {i} passed its budget on Monday after a debate of {i} hours. "
    f"Schools get {i % 7 + 1} percent more money, and critics said the roads were ignored."
    for i in range(60)
)
LONG_JOB = {"article": {"text": LONG_TEXT}, "claims": ["The council cut school funding"]}


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("redis-full")
    server = LocalRedis(tmp / "redis")
    server.start()
    worker = WorkerProcess(server.url, tmp / "worker.log", name="full")
    api = ApiProcess(server.url, free_port(), tmp / "api.log", workers=1)
    try:
        worker.start()
        api.start()
        yield server, worker, api
    finally:
        api.stop()
        worker.stop()
        server.stop()


def wait_ended(url: str, job_ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        states = {
            j: requests.get(f"{url}/v1/jobs/{j}", timeout=5).json()["status"] for j in job_ids
        }
        if all(s in TERMINAL_STATUSES for s in states.values()):
            break
        time.sleep(0.3)
    return states


def test_a_full_redis_is_refused_with_503_and_nothing_accepted_is_lost(stack):
    server, worker, api = stack
    client = redis.Redis.from_url(server.url)
    assert requests.get(api.url + "/readyz", timeout=5).status_code == 200
    # A queued job no worker takes (its message in a queue of its own), to cancel later.
    store = JobStore(client, ttl_seconds=600)
    parked = uuid.uuid4().hex
    store.create(parked, JOB, enqueue=("parked", "{}"))
    accepted = []
    for _ in range(30):
        response = requests.post(api.url + "/v1/jobs", json=LONG_JOB, timeout=10)
        assert response.status_code == 202
        accepted.append(response.json()["id"])
    keys = fill_to_maxmemory(client)  # mid-load: the worker is running the jobs
    try:
        unended = [j for j in accepted if store.get(j).status.value in ("queued", "running")]
        assert unended, "every job ended before Redis was full: the test saw nothing"
        refused = requests.post(api.url + "/v1/jobs", json=JOB, timeout=10)
        assert refused.status_code == 503, refused.text
        assert refused.json()["reason"] == "redis_unavailable"
        assert int(refused.headers["Retry-After"]) > 0
        batch = requests.post(api.url + "/v1/batches", json={"jobs": [JOB, JOB]}, timeout=10)
        assert batch.status_code == 503 and "Retry-After" in batch.headers, batch.text
        cancel = requests.delete(f"{api.url}/v1/jobs/{parked}", timeout=10)
        assert cancel.status_code == 503 and "Retry-After" in cancel.headers, cancel.text
        ready = requests.get(api.url + "/readyz", timeout=5)
        assert ready.status_code == 503 and ready.json()["errors"] == {"redis": ["full"]}
        assert "Retry-After" in ready.headers
        # Reads still work: the API serves, a job can be read.
        assert requests.get(api.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(f"{api.url}/v1/jobs/{parked}", timeout=5).json()["status"] == "queued"
        time.sleep(3)  # the worker meets the full Redis
        assert worker.process is not None and worker.process.poll() is None
    finally:
        free_filler(client, keys)
    states = wait_ended(api.url, accepted, timeout=90)
    assert set(states.values()) == {"succeeded"}, states
    assert requests.get(api.url + "/readyz", timeout=5).status_code == 200
    assert worker.process.poll() is None
    log = worker.read_log()
    assert "Unrecoverable error" not in log
    assert "redis is full" in log or "redis unavailable (" in log  # it met the full Redis
    assert len(accepted) == 30
    # After: the API accepts again, the worker runs jobs, the parked job can be canceled.
    again = requests.post(api.url + "/v1/jobs?wait=30", json=JOB, timeout=40)
    assert again.status_code == 200 and again.json()["status"] == "succeeded", again.text
    assert requests.delete(f"{api.url}/v1/jobs/{parked}", timeout=10).status_code == 200
    client.close()
