"""The chaos run's Redis failover step: a primary, its replica and three sentinels
(devstack.sentinel), the API and two workers through Sentinel; the primary SIGKILLed
mid-load, Sentinel promotes the replica, and the API and the workers follow it.

The killed node comes back as the new primary's replica once the promotion is seen (a
restarted pod of a Sentinel chart): with NEWSNLP_REDIS_MIN_REPLICAS 1, the API refuses jobs
(503 + Retry-After) while the new primary has no replica to confirm them.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import redis

from devstack.local_redis import free_port
from devstack.processes import ApiProcess, WorkerProcess
from devstack.sentinel import SentinelStack
from ops.ledger import VISIBILITY, WORKER_ENV, Ledger, corpus, report, submit_many, wait_all_ended


def step_failover(n: int, work: Path, ledger: Ledger, name: str) -> dict:
    """Submit `n` jobs, kill the primary two seconds in; the step's report."""
    stack = SentinelStack(work / "sentinel", fsync="always").start()
    api = ApiProcess(stack.url, free_port(), work / "api-sentinel.log", **stack.env())
    env = {**stack.env(), **WORKER_ENV}
    workers = [WorkerProcess(stack.url, work / f"ws{i}.log", name=f"ws{i}", **env) for i in (1, 2)]
    try:
        api.start()
        for worker in workers:
            worker.start()
        t0 = time.monotonic()
        before, refused_before = len(ledger.accepted), ledger.refused_503
        feeder = threading.Thread(
            target=submit_many, args=(api.url, corpus(n), ledger, 4, 10.0), daemon=True
        )
        feeder.start()
        time.sleep(2.0)
        old = stack.primary()
        killed_at = time.time()
        old.kill()
        new = stack.wait_promoted(old, timeout=30)
        promoted_in = time.time() - killed_at
        stack.restart_as_replica(old)
        feeder.join()
        ids = ledger.accepted[before:]
        client = new.client()
        final = wait_all_ended(client, ids, timeout=VISIBILITY + 120)
        recovered_in = first_end_after(client, ids, killed_at) - killed_at
        alive = sum(1 for w in workers if w.process is not None and w.process.poll() is None)
        return report(name, ids, final, t0,
                      f"promoted in {promoted_in:.1f} s; recovered in {recovered_in:.1f} s "
                      f"(kill to the first job finished on the new primary); "
                      f"{ledger.refused_503 - refused_before} POSTs answered 503 + Retry-After "
                      f"(then retried); workers alive {alive}/2")  # fmt: skip
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
        stack.stop()


def first_end_after(client: redis.Redis, ids: list[str], moment: float) -> float:
    """When the first of `ids` ended after `moment` (a Unix time), by its record: a record
    that ended after the kill was written on the new primary. NaN when none did."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(f"newsnlp:job:{job_id}", "finished_at")
    ends = [
        datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()
        for raw in pipe.execute()
        if raw
    ]
    return min((end for end in ends if end > moment), default=float("nan"))
