"""Redis Sentinel failover: the primary killed (SIGKILL) while jobs arrive, Sentinel promotes
the replica, and the API and the worker follow it: new jobs are accepted and finished, and
no accepted job is lost.

A real primary, replica and three sentinels (devstack.sentinel), the API under gunicorn and
a real worker, over HTTP.
"""

from __future__ import annotations

import threading
import time

import pytest
import requests

from devstack.local_redis import free_port
from devstack.processes import ApiProcess, WorkerProcess
from devstack.sentinel import SentinelStack
from jobs.contract import TERMINAL_STATUSES

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council passed the budget on Monday. Schools get more money."},
       "tasks": ["summary"]}  # fmt: skip
# Redelivery of a message the failover lost from a worker's hands: after the visibility
# timeout (short here).
WORKER_ENV = {
    "NEWSNLP_TASK_SOFT_TIME_LIMIT": "10",
    "NEWSNLP_TASK_TIME_LIMIT": "15",
    "NEWSNLP_VISIBILITY_TIMEOUT": "20",
    "NEWSNLP_TORCH_THREADS": "1",
}


def submit(url: str, deadline: float) -> str:
    """POST one job until it is accepted (202), honouring 503 + Retry-After."""
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{url}/v1/jobs", json=JOB, timeout=10)
        except requests.RequestException:
            time.sleep(0.2)
            continue
        if response.status_code == 202:
            return str(response.json()["id"])
        assert response.status_code == 503, response.text
        assert response.json()["reason"] in ("redis_unavailable", "replication_timeout")
        assert "Retry-After" in response.headers
        time.sleep(0.3)
    raise TimeoutError("a job was not accepted in time")


def wait_ended(url: str, job_ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        try:
            states = {
                j: requests.get(f"{url}/v1/jobs/{j}", timeout=5).json()["status"] for j in job_ids
            }
        except (requests.RequestException, ValueError, KeyError):
            time.sleep(0.3)
            continue
        if all(s in TERMINAL_STATUSES for s in states.values()):
            break
        time.sleep(0.3)
    return states


@pytest.fixture()
def stack(tmp_path):
    topology = SentinelStack(tmp_path / "redis").start()
    env = {**topology.env(), **WORKER_ENV}
    worker = WorkerProcess(topology.url, tmp_path / "worker.log", name="failover", **env)
    api = ApiProcess(topology.url, free_port(), tmp_path / "api.log", workers=1, **env)
    try:
        worker.start()
        api.start()
        yield topology, api, worker
    finally:
        api.stop()
        worker.stop()
        topology.stop()


def test_api_and_worker_follow_a_failover(stack):
    topology, api, worker = stack
    accepted = [submit(api.url, time.monotonic() + 30) for _ in range(5)]
    assert set(wait_ended(api.url, accepted, 60).values()) == {"succeeded"}

    # Jobs keep arriving while the primary is killed and the replica promoted.
    during: list[str] = []
    deadline = time.monotonic() + 90

    def feed() -> None:
        for _ in range(15):
            during.append(submit(api.url, deadline))
            time.sleep(0.1)

    feeder = threading.Thread(target=feed)
    feeder.start()
    time.sleep(0.5)
    old = topology.primary()
    old.kill()
    new = topology.wait_promoted(old, timeout=30)
    topology.restart_as_replica(old)  # as a restarted pod: the new primary's replica
    feeder.join()
    after = [submit(api.url, time.monotonic() + 30) for _ in range(5)]

    everything = accepted + during + after
    states = wait_ended(api.url, everything, 90)
    assert states == {j: "succeeded" for j in everything}
    assert new is not old
    # The records are on the primary, each job written once. (On a loaded machine the
    # sentinels may fail over once more, back to the restarted node: whichever is primary
    # now holds them.)
    client = topology.primary().client()
    writes = [client.hget(f"newsnlp:job:{j}", "writes") for j in everything]
    assert writes == [b"1"] * len(everything)
