"""The jobs a chaos run submits, the way clients submit them, and what became of each.

Clients retry a 503 after its Retry-After, as the API asks; every job the API accepted (202)
is in the ledger, and each step reports its jobs' outcome in one line (`Feed.report`).
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from devstack.processes import REPO_ROOT
from jobs.contract import TERMINAL_STATUSES

SOFT_LIMIT, HARD_LIMIT, VISIBILITY, SWEEP = 20, 25, 30, 10
WORKER_ENV = {
    "NEWSNLP_TASK_SOFT_TIME_LIMIT": str(SOFT_LIMIT),
    "NEWSNLP_TASK_TIME_LIMIT": str(HARD_LIMIT),
    "NEWSNLP_VISIBILITY_TIMEOUT": str(VISIBILITY),
    # A job whose message a failover lost is queued again 10-30 s after (jobs.sweeper).
    "NEWSNLP_SWEEP_INTERVAL_SECONDS": str(SWEEP),
    "NEWSNLP_TORCH_THREADS": "1",
}
CLAIMS = ["The government denied the report", "Prices rose sharply last year"]


def corpus(n: int) -> list[str]:
    """Short articles from the CNN/DM sample when present, else generated prose."""
    data = Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    path = data / "cnndm" / "cnndm_test_250.jsonl"
    texts: list[str] = []
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            texts = [" ".join(json.loads(line)["article"].split()[:120]) for line in f]
    if not texts:
        texts = [
            f"Officials in city {i} approved a new budget on Monday. It raises school spending "
            f"by {i % 9 + 1} percent. Critics said roads were ignored. A vote follows in May."
            for i in range(50)
        ]
    return [texts[i % len(texts)] for i in range(n)]


@dataclass
class Ledger:
    """Every job the API accepted (202), across all steps."""

    accepted: list[str] = field(default_factory=list)
    refused_503: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(api: str, text: str, ledger: Ledger, deadline: float) -> None:
    """POST one job, honouring 503 + Retry-After, until it is accepted or the deadline."""
    body = {"article": {"text": text}, "claims": CLAIMS}
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{api}/v1/jobs", json=body, timeout=10)
        except requests.RequestException:
            time.sleep(0.5)
            continue
        if response.status_code == 202:
            with ledger.lock:
                ledger.accepted.append(response.json()["id"])
            return
        if response.status_code == 503:
            with ledger.lock:
                ledger.refused_503 += 1
            assert "Retry-After" in response.headers, "503 without Retry-After"
            time.sleep(min(1.0, float(response.headers["Retry-After"])))
            continue
        raise RuntimeError(f"unexpected answer {response.status_code}: {response.text[:300]}")
    raise TimeoutError("a job could not be submitted before the deadline")


def submit_many(
    api: str, texts: list[str], ledger: Ledger, threads: int = 4, spread: float = 0.0
) -> None:
    """Submit `texts` from `threads` clients, paced over about `spread` seconds."""
    deadline = time.monotonic() + 120 + spread
    pause = spread * threads / max(1, len(texts))

    def client(chunk: list[str]) -> None:
        for text in chunk:
            submit(api, text, ledger, deadline)
            time.sleep(pause)

    workers = [threading.Thread(target=client, args=(texts[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


@dataclass
class Feed:
    """The jobs one step submits in the background while it does its damage (`feeding`)."""

    ledger: Ledger
    started: float
    before: int
    refused_before: int
    ids: list[str] = field(default_factory=list)

    @property
    def refused(self) -> int:
        """POSTs of this step answered 503 (then retried)."""
        return self.ledger.refused_503 - self.refused_before

    def report(self, name: str, client: redis.Redis, notes: str, grace: float = 120) -> dict:
        """Wait until the step's jobs have ended (or the visibility timeout and `grace`
        passed with none ending), print the step's line and return its counts."""
        final = wait_all_ended(client, self.ids, timeout=VISIBILITY + grace).values()
        finished = sum(1 for s in final if s["status"] == "succeeded")
        failed = sum(1 for s in final if s["status"] == "failed")
        lost = sum(1 for s in final if s["status"] not in TERMINAL_STATUSES)
        duplicated = sum(1 for s in final if int(s["writes"]) > 1)
        reruns = sum(1 for s in final if int(s["attempts"]) > 1)
        republished = sum(1 for s in final if int(s["republished"]) > 0)
        discarded = sum(int(s["late"]) for s in final)
        print(
            f"{name:<34} accepted {len(self.ids):>4}  succeeded {finished:>4}  failed {failed:>2}  "
            f"lost {lost}  duplicated {duplicated}  re-run {reruns}  republished {republished}  "
            f"late writes refused {discarded}  {time.monotonic() - self.started:6.1f} s  {notes}",
            flush=True,
        )
        return {"accepted": len(self.ids), "finished": finished, "lost": lost + failed,
                "duplicated": duplicated}  # fmt: skip


@contextmanager
def feeding(api: str, n: int, ledger: Ledger, spread: float = 0.0) -> Iterator[Feed]:
    """`n` jobs submitted from 4 clients (paced over `spread` s) during the block; after it,
    once all are submitted, the feed's `ids` are the jobs the API accepted."""
    feed = Feed(ledger, time.monotonic(), len(ledger.accepted), ledger.refused_503)
    feeder = threading.Thread(
        target=submit_many, args=(api, corpus(n), ledger, 4, spread), daemon=True
    )
    feeder.start()
    yield feed
    feeder.join()
    feed.ids = ledger.accepted[feed.before :]


def statuses(client: redis.Redis, ids: list[str]) -> dict[str, dict[str, str]]:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(
            f"newsnlp:job:{job_id}", "status", "writes", "late_writes", "attempts", "republished"
        )
    out = {}
    for job_id, values in zip(ids, pipe.execute(), strict=True):
        status, writes, late, attempts, republished = (v.decode() if v else None for v in values)
        out[job_id] = {
            "status": status or "missing",
            "writes": writes or "0",
            "late": late or "0",
            "attempts": attempts or "0",
            "republished": republished or "0",
        }
    return out


def wait_all_ended(client: redis.Redis, ids: list[str], timeout: float) -> dict[str, dict]:
    """The jobs' statuses once all have ended, or once `timeout` seconds passed in which none
    ended: a slow (CPU-starved) machine is waited for, a job that is stuck is not."""
    deadline, ended_before = time.monotonic() + timeout, -1
    while True:
        try:
            current = statuses(client, ids)
        except redis.exceptions.ConnectionError:
            current = {}
        ended = sum(s["status"] in TERMINAL_STATUSES for s in current.values())
        if ended > ended_before:
            deadline, ended_before = time.monotonic() + timeout, ended
        if current and ended == len(ids) or time.monotonic() > deadline:
            return current
        time.sleep(0.5)
