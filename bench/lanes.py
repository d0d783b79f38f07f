"""Interactive latency with a bulk backlog queued, on one worker: what the lanes buy.

    python -m bench.lanes            (make bench-lanes)

Starts a Redis, the API and one worker (1 process) of its own; times 30 interactive jobs
(`POST /v1/jobs?wait=60`, one a second) on the idle stack, then with 2,000 bulk jobs queued,
and compares the bulk lane's throughput with the same jobs through one queue alone. Prints
the lines shown in README.md (Lanes). The jobs are short news texts, summary and stance.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import redis
import requests

from bench.figures import nearest_rank
from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess

logger = logging.getLogger(__name__)

BULK = 2_000
INTERACTIVE = 30
BATCH = 100


def article(i: int) -> dict:
    """A short article of its own: every sentence names `i`, so that none is in the worker's
    embedding cache from another job (a cached article runs ~10 times faster)."""
    text = (
        f"Officials in town {i} approved a budget on Monday after a long debate. "
        f"It adds {i} dollars for schools and roads, and cuts the cost of the town hall. "
        f"The mayor of town {i} said the vote was close. "
        f"Critics said taxes in town {i} would rise next year. "
        f"The budget of town {i} takes effect in July."
    )
    return {"article": {"title": f"Town {i} passes its budget", "text": text}}


def p95(values: list[float]) -> float:
    return nearest_rank(values, 0.95)


def interactive_latencies(
    session: requests.Session, url: str, offset: int, count: int = INTERACTIVE
) -> list[float]:
    """Latencies of `count` jobs submitted one a second, each waited on in its request."""
    latencies: list[float] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        t0 = time.monotonic()
        response = session.post(f"{url}/v1/jobs?wait=60", json=article(offset + i), timeout=90)
        elapsed = time.monotonic() - t0
        if response.status_code != 200 or response.json()["status"] != "succeeded":
            raise RuntimeError(f"interactive job not done in 60 s: {response.text[:200]}")
        with lock:
            latencies.append(elapsed)

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=count) as pool:
        futures = []
        for i in range(count):
            time.sleep(max(0.0, start + i - time.monotonic()))
            futures.append(pool.submit(one, i))
        for future in futures:
            future.result()
    return latencies


def queue_bulk(
    session: requests.Session, url: str, priority: str, count: int, offset: int
) -> list[str]:
    ids: list[str] = []
    for b in range(count // BATCH):
        jobs = [article(offset + BATCH * b + i) for i in range(BATCH)]
        body = {"jobs": jobs, "priority": priority}
        response = session.post(f"{url}/v1/batches", json=body, timeout=60)
        response.raise_for_status()
        ids += [job["id"] for job in response.json()["jobs"]]
    return ids


def throughput(client: redis.Redis, ids: list[str], timeout: float = 1_800) -> float:
    """Jobs a second from the first job's start to the last one's end, once all have ended."""
    deadline = time.monotonic() + timeout
    while True:
        pipe = client.pipeline(transaction=False)
        for job_id in ids:
            pipe.hmget(f"newsnlp:job:{job_id}", "status", "started_at", "finished_at")
        rows = pipe.execute()
        if all(status == b"succeeded" for status, _, _ in rows):
            break
        if time.monotonic() > deadline:
            raise TimeoutError("the bulk jobs did not all end")
        time.sleep(1.0)
    first = min(datetime.fromisoformat(s.decode()) for _, s, _ in rows)
    last = max(datetime.fromisoformat(f.decode()) for _, _, f in rows)
    return len(ids) / (last - first).total_seconds()


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    with tempfile.TemporaryDirectory() as tmp, LocalRedis(Path(tmp) / "redis") as server:
        worker = WorkerProcess(server.url, Path(tmp) / "worker.log", name="lanes")
        api = ApiProcess(server.url, free_port(), Path(tmp) / "api.log", workers=2)
        with worker, api, redis.Redis.from_url(server.url) as client, requests.Session() as session:
            interactive_latencies(session, api.url, 0, count=5)  # warm-up
            idle = p95(interactive_latencies(session, api.url, 100_000))
            logger.info("idle p95 %.3f s; queueing %d bulk jobs", idle, BULK)
            bulk_ids = queue_bulk(session, api.url, "bulk", BULK, 200_000)
            loaded = interactive_latencies(session, api.url, 300_000)
            left = int(client.llen("newsnlp-bulk"))
            print(
                f"interactive p95 with {BULK} bulk queued: {p95(loaded):.2f} s "
                f"(idle: {idle:.2f} s)   ratio {p95(loaded) / idle:.1f}"
            )
            print(f"  bulk jobs still queued after the last interactive job: {left}")
            lanes = throughput(client, bulk_ids)
            one_queue = throughput(
                client, queue_bulk(session, api.url, "interactive", BULK, 400_000)
            )
            print(
                f"bulk throughput: {lanes:.1f} jobs/s with 30 interactive jobs among them; "
                f"{one_queue:.1f} jobs/s in one queue alone   "
                f"({100 * (lanes / one_queue - 1):+.0f} %)"
            )


if __name__ == "__main__":
    main()
