"""`make soak`: many small jobs through the real stack; nothing lost, memory and keys bounded.

Starts Redis, the API (gunicorn) and two workers, submits the jobs in batches of 100 over
HTTP, waits for every one, and prints the API's and the workers' resident memory and the
Redis key count at the start, at the end, and once the job records have expired (a short
TTL is set for this run).
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import redis
import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess, descendants, fresh_dir, proc_mb
from jobs.contract import TERMINAL_STATUSES

TTL = 60
# The jobs are submitted faster than two workers end them: the queue's cap on jobs not ended
# (10,000 by default) is raised for this stack, so that all of them are accepted.
ENV = {
    "NEWSNLP_JOB_TTL_SECONDS": str(TTL),
    "NEWSNLP_TORCH_THREADS": "1",
    "NEWSNLP_MAX_QUEUED_JOBS": "1000000",
}


def rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants, in MB."""
    return sum(proc_mb(p, "VmRSS") for p in [pid, *descendants(pid)])


def job(i: int) -> dict:
    text = (
        f"Officials in district {i} approved a new budget on Monday. "
        f"It raises school spending by {i % 9 + 1} percent. Critics said roads were ignored."
    )
    return {"article": {"title": f"District {i} passes budget", "text": text}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--timeout", type=float, default=840, help="seconds for all jobs")
    args = parser.parse_args()
    work = fresh_dir("soak")
    with (
        LocalRedis(work / "redis") as server,
        ApiProcess(server.url, free_port(), work / "api.log", **ENV) as api,
        WorkerProcess(server.url, work / "w1.log", name="soak1", **ENV) as w1,
        WorkerProcess(server.url, work / "w2.log", name="soak2", **ENV) as w2,
        redis.Redis.from_url(server.url) as client,
        requests.Session() as session,
    ):
        workers = [w1, w2]
        # A kept-alive connection the server has just closed: retry the (idempotent) GETs.
        retry = Retry(total=5, allowed_methods=["GET"], backoff_factor=0.2, raise_on_status=False)
        session.mount("http://", HTTPAdapter(max_retries=retry))
        t0 = time.monotonic()
        keys_start = client.dbsize()
        # Warm up: one batch, so that start figures include loaded models.
        warm = session.post(f"{api.url}/v1/batches", json={"jobs": [job(-1)]}, timeout=30).json()
        while not session.get(f"{api.url}{warm['links']['self']}", timeout=30).json()["done"]:
            time.sleep(0.2)
        rss_start = (rss_mb(api.process.pid), [rss_mb(w.process.pid) for w in workers])

        def submit(start: int) -> str:
            batch = [job(i) for i in range(start, min(start + 100, args.jobs))]
            response = session.post(f"{api.url}/v1/batches", json={"jobs": batch}, timeout=60)
            response.raise_for_status()
            return response.json()["links"]["self"]

        with ThreadPoolExecutor(4) as pool:
            batches = list(pool.map(submit, range(0, args.jobs, 100)))
        submitted = time.monotonic() - t0
        deadline = time.monotonic() + args.timeout
        pending = list(batches)
        counts: dict[str, int] = {}
        while pending and time.monotonic() < deadline:
            still = []
            for url in pending:
                answer = session.get(api.url + url, timeout=30)
                answer.raise_for_status()
                progress = answer.json()
                if not progress["done"]:
                    still.append(url)
                else:
                    for status, n in progress["counts"].items():
                        counts[status] = counts.get(status, 0) + n
            pending = still
            if pending:
                time.sleep(2)
        elapsed = time.monotonic() - t0
        rss_end = (rss_mb(api.process.pid), [rss_mb(w.process.pid) for w in workers])
        keys_end = client.dbsize()
        lost = args.jobs - sum(counts.get(s, 0) for s in TERMINAL_STATUSES)
        time.sleep(TTL + 5)
        keys_expired = client.dbsize()

    print(f"soak: {args.jobs} jobs submitted in {submitted:.1f} s, all ended in {elapsed:.1f} s "
          f"({args.jobs / elapsed:.1f} jobs/s on 2 workers)")  # fmt: skip
    print(f"  succeeded {counts.get('succeeded', 0)}, failed {counts.get('failed', 0)}, "
          f"lost {lost}")  # fmt: skip
    print(f"  API RSS      {rss_start[0]:7.1f} MB -> {rss_end[0]:7.1f} MB "
          f"({rss_end[0] - rss_start[0]:+.1f})")  # fmt: skip
    for i, (a, b) in enumerate(zip(rss_start[1], rss_end[1], strict=True), 1):
        print(f"  worker {i} RSS {a:7.1f} MB -> {b:7.1f} MB ({b - a:+.1f})")
    print(f"  redis keys   {keys_start} at start, {keys_end} at the end, "
          f"{keys_expired} after the {TTL} s TTL")  # fmt: skip
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
