"""Waiting and slow clients do not stall the API: it serves from gevent workers (a greenlet
a connection), long-polls (`?wait=`) are capped per API process (beyond NEWSNLP_MAX_WAITS a
request is answered at once), and clients that send their request a byte a second hold only
their own connection.

The API under gunicorn (1 process) over real HTTP, with a Redis of its own and no worker: a
job stays queued until it is canceled.
"""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess

pytestmark = pytest.mark.integration

JOB = {"article": {"text": "The council passed the budget on Monday."}, "tasks": ["summary"]}
MAX_WAITS = 3


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("waits")
    server = LocalRedis(tmp / "redis")
    server.start()
    process = ApiProcess(
        server.url, free_port(), tmp / "api.log", workers=1, NEWSNLP_MAX_WAITS=str(MAX_WAITS)
    )
    try:
        yield process.start()
    finally:
        process.stop()
        server.stop()


def timed_get(url: str) -> tuple[float, int, str]:
    t0 = time.monotonic()
    response = requests.get(url, timeout=30)
    return time.monotonic() - t0, response.status_code, response.json()["status"]


def test_waits_beyond_the_cap_are_answered_at_once_and_healthz_stays_fast(api):
    job_id = requests.post(api.url + "/v1/jobs", json=JOB, timeout=10).json()["id"]
    url = f"{api.url}/v1/jobs/{job_id}?wait=8"
    with ThreadPoolExecutor(10) as pool:
        waits = [pool.submit(timed_get, url) for _ in range(10)]
        time.sleep(1.0)
        # All four threads would be taken by waits without the cap: the probe would hang.
        for _ in range(5):
            t0 = time.monotonic()
            assert requests.get(api.url + "/healthz", timeout=2).status_code == 200
            assert time.monotonic() - t0 < 1.0
        results = [w.result() for w in waits]
    held = [r for r in results if r[0] > 6]
    quick = [r for r in results if r[0] < 3]
    assert len(held) == MAX_WAITS, results
    assert len(quick) == 10 - MAX_WAITS, results
    assert {(code, status) for _, code, status in results} == {(200, "queued")}


def test_every_waiter_gets_the_end_when_the_job_ends(api):
    job_id = requests.post(api.url + "/v1/jobs", json=JOB, timeout=10).json()["id"]
    url = f"{api.url}/v1/jobs/{job_id}?wait=20"
    with ThreadPoolExecutor(MAX_WAITS) as pool:
        waits = [pool.submit(timed_get, url) for _ in range(MAX_WAITS)]
        time.sleep(1.0)
        # A thread is free for the cancel, which ends the job: every waiter sees it at once.
        assert requests.delete(f"{api.url}/v1/jobs/{job_id}", timeout=10).status_code == 200
        results = [w.result() for w in waits]
    assert [status for _, _, status in results] == ["canceled"] * MAX_WAITS
    assert all(elapsed < 10 for elapsed, _, _ in results), results


def test_a_post_beyond_the_cap_answers_202_at_once(api):
    job_id = requests.post(api.url + "/v1/jobs", json=JOB, timeout=10).json()["id"]
    url = f"{api.url}/v1/jobs/{job_id}?wait=6"
    with ThreadPoolExecutor(MAX_WAITS) as pool:
        waits = [pool.submit(timed_get, url) for _ in range(MAX_WAITS)]
        time.sleep(1.0)
        t0 = time.monotonic()
        response = requests.post(api.url + "/v1/jobs?wait=6", json=JOB, timeout=10)
        assert response.status_code == 202 and time.monotonic() - t0 < 3
        assert response.json()["status"] == "queued"
        [w.result() for w in waits]


def test_many_waiters_and_byte_a_second_clients_leave_healthz_fast(api):
    """40 clients dribbling their headers and more waiters than the cap, all at once: with one
    API process, every /healthz is still answered within half a second (gthread workers
    with 4 threads timed out here), and the waiters get their answers."""
    stop = threading.Event()

    def dribble() -> None:
        # Reconnects when the server cuts it (it may): the load stays on until the end.
        while not stop.is_set():
            try:
                with socket.create_connection(("127.0.0.1", api.port), timeout=10) as conn:
                    for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100:
                        if stop.is_set():
                            return
                        conn.sendall(bytes([byte]))
                        time.sleep(1.0)
            except OSError:
                time.sleep(0.2)

    slow = [threading.Thread(target=dribble, daemon=True) for _ in range(40)]
    for t in slow:
        t.start()
    job_id = requests.post(api.url + "/v1/jobs", json=JOB, timeout=10).json()["id"]
    url = f"{api.url}/v1/jobs/{job_id}?wait=4"
    try:
        with ThreadPoolExecutor(12) as pool:
            waits = [pool.submit(timed_get, url) for _ in range(12)]
            time.sleep(1.5)
            for _ in range(10):
                t0 = time.monotonic()
                assert requests.get(api.url + "/healthz", timeout=5).status_code == 200
                assert time.monotonic() - t0 < 0.5
                time.sleep(0.1)
            results = [w.result() for w in waits]
    finally:
        stop.set()
    assert [status for _, code, status in results] == ["queued"] * 12
