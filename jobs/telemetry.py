"""Cluster-wide counters, histograms and worker heartbeats, kept in Redis.

Every API and worker process, on any machine, adds to the same Redis hash, so the API's
/metrics shows the whole service without scraping each worker process (prefork children
come and go), and a worker's death shows as its heartbeat key expiring.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis

METRICS_KEY = "newsnlp:metrics"
WORKER_PREFIX = "newsnlp:worker:"
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


def _bucket_label(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


@dataclass(frozen=True)
class Histogram:
    buckets: dict[str, int]  # cumulative counts by upper bound label, "+Inf" last
    count: int
    total: float


@dataclass(frozen=True)
class Increments:
    """What one event adds to the fields of the metrics hash `key`."""

    key: str
    counts: dict[str, int]
    sums: dict[str, float]

    def negated(self) -> Increments:
        """What takes these increments back (a job's creation taken back, jobs.store)."""
        return Increments(
            self.key,
            {name: -count for name, count in self.counts.items()},
            {name: -amount for name, amount in self.sums.items()},
        )


def submitted_increments(tasks: Iterable[str]) -> Increments:
    """What a submitted job adds to the metrics; the job store adds them in the same script
    that records the job (`JobStore.create`)."""
    return Increments(METRICS_KEY, {f"submitted|{task}": 1 for task in tasks}, {})


def ended_increments(
    tasks: Iterable[str],
    status: str,
    duration_seconds: float | None = None,
    model_seconds: Mapping[str, float] | None = None,
) -> Increments:
    """What a job that ended adds to the metrics. The worker has the job store add them in
    the same script that ends the job (`JobStore.succeed`/`fail`): counted once, when ended."""
    counts = {f"ended|{task}|{status}": 1 for task in tasks}
    sums: dict[str, float] = {}
    observations = [("job_duration", "", duration_seconds)] if duration_seconds is not None else []
    observations += [("model", stage, seconds) for stage, seconds in (model_seconds or {}).items()]
    for name, label, value in observations:
        # One bucket per observation, the first bound at or above it; `histograms` adds them
        # up into Prometheus's cumulative buckets when the figures are read.
        bound = next((b for b in DURATION_BUCKETS if value <= b), math.inf)
        counts[f"hist|{name}|{label}|{_bucket_label(bound)}"] = 1
        counts[f"hist|{name}|{label}|count"] = 1
        sums[f"hist|{name}|{label}|sum"] = value
    return Increments(METRICS_KEY, counts, sums)


class Telemetry:
    def __init__(self, client: redis.Redis, *, heartbeat_ttl: int = 30) -> None:
        self.client = client
        self.heartbeat_ttl = heartbeat_ttl

    # -- recording -----------------------------------------------------------------------
    def heartbeat(self, worker: str, info: Mapping[str, object]) -> None:
        payload = json.dumps({"at": time.time(), **info})
        self.client.set(WORKER_PREFIX + worker, payload, ex=self.heartbeat_ttl)

    def worker_stopped(self, worker: str) -> None:
        self.client.delete(WORKER_PREFIX + worker)

    # -- reading -------------------------------------------------------------------------
    def live_workers(self) -> list[str]:
        names = self.client.scan_iter(match=WORKER_PREFIX + "*", count=100)
        return sorted(_text(n)[len(WORKER_PREFIX) :] for n in names)

    def worker_heartbeats(self) -> dict[str, dict[str, object]]:
        """The last heartbeat of each live worker, by name (one that expired meanwhile is left
        out)."""
        names = self.live_workers()
        if not names:
            return {}
        payloads = self.client.mget([WORKER_PREFIX + n for n in names])
        return {n: json.loads(p) for n, p in zip(names, payloads, strict=True) if p is not None}

    def queue_depth(self, queue: str) -> int:
        return int(self.client.llen(queue))

    def snapshot(self) -> dict[str, str]:
        raw = self.client.hgetall(METRICS_KEY)
        return {_text(k): _text(v) for k, v in raw.items()}


def histograms(snapshot: Mapping[str, str], name: str) -> dict[str, Histogram]:
    """The histograms called `name` in a snapshot, by label."""
    by_label: dict[str, dict[str, str]] = {}
    for key, value in snapshot.items():
        parts = key.split("|")
        if len(parts) == 4 and parts[0] == "hist" and parts[1] == name:
            by_label.setdefault(parts[2], {})[parts[3]] = value
    result = {}
    for label, fields in by_label.items():
        buckets, below = {}, 0
        for bound in (*DURATION_BUCKETS, math.inf):
            below += int(fields.get(_bucket_label(bound), 0))
            buckets[_bucket_label(bound)] = below  # cumulative, as Prometheus reads them
        result[label] = Histogram(
            buckets=buckets, count=int(fields.get("count", 0)), total=float(fields.get("sum", 0))
        )
    return result


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
