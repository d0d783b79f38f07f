"""The end-to-end phases: the real stack (gunicorn, Redis, workers) and closed-loop clients."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.corpus import Article
from bench.figures import Phase
from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess, descendants, proc_mb
from jobs.contract import TERMINAL_STATUSES

logger = logging.getLogger(__name__)


class MemorySampler:
    """Peak RSS (the kernel's high-water mark) and sampled peak PSS per process kind.

    A forked worker child shares its parent's pages: their RSS counts those pages twice,
    their PSS splits them. Each kind's figure is the largest single process of that kind.
    """

    def __init__(self, kinds: Callable[[], dict[str, list[int]]], interval: float = 1.0) -> None:
        self.kinds = kinds
        self.interval = interval
        self.peaks: dict[str, dict[str, float]] = {}
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="bench-memory", daemon=True)

    def sample(self) -> None:
        for kind, pids in self.kinds().items():
            peak = self.peaks.setdefault(kind, {"rss_mb": 0.0, "pss_mb": 0.0})
            for pid in pids:
                peak["rss_mb"] = max(peak["rss_mb"], proc_mb(pid, "VmHWM"))
                peak["pss_mb"] = max(peak["pss_mb"], proc_mb(pid, "Pss", "smaps_rollup"))

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            self.sample()

    def __enter__(self) -> MemorySampler:
        self.sample()
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopped.set()
        self.thread.join()
        self.sample()


def merge_peaks(*peaks: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    merged: dict[str, dict[str, float]] = {}
    for p in peaks:
        for kind, m in p.items():
            cur = merged.setdefault(kind, {"rss_mb": 0.0, "pss_mb": 0.0})
            cur["rss_mb"] = round(max(cur["rss_mb"], m["rss_mb"]), 1)
            cur["pss_mb"] = round(max(cur["pss_mb"], m["pss_mb"]), 1)
    return merged


def _iso_ms(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000


class StackClient:
    """Closed-loop clients: each POSTs a job and waits for its end before the next, in the
    same request (`POST /v1/jobs?wait=30`; then `GET ?wait=30` while it has not ended).

    Plain `http.client` connections, kept alive: the clients share the cores with the service
    they measure (in production they are elsewhere), so they should take as little of them as
    a client can; `requests` took ~2.3 ms of CPU a job, about a third of the API's own share.
    """

    def __init__(self, base_url: str, clients: int) -> None:
        self.base_url = base_url
        self.clients = clients

    def run(self, articles: Sequence[Article]) -> tuple[float, list[dict[str, Any]]]:
        import http.client
        from urllib.parse import urlsplit

        address = urlsplit(self.base_url)
        pending = list(reversed(articles))
        lock = threading.Lock()
        results: list[dict[str, Any]] = []

        def client() -> None:
            connection = http.client.HTTPConnection(address.hostname, address.port, timeout=90)
            try:
                while True:
                    with lock:
                        if not pending:
                            return
                        article = pending.pop()
                    results.append(self.one(connection, article))
            finally:
                connection.close()

        start = time.perf_counter()
        with ThreadPoolExecutor(self.clients) as pool:
            for future in [pool.submit(client) for _ in range(self.clients)]:
                future.result()
        return time.perf_counter() - start, results

    @staticmethod
    def _call(connection: Any, method: str, path: str, body: bytes | None = None) -> Any:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status not in (200, 202):
            raise RuntimeError(f"{method} {path} answered {response.status}: {payload[:300]!r}")
        return json.loads(payload)

    def one(self, connection: Any, article: Article) -> dict[str, Any]:
        t0 = time.perf_counter()
        body = json.dumps(article.payload()).encode("utf-8")
        job = self._call(connection, "POST", "/v1/jobs?wait=30", body)
        while job["status"] not in TERMINAL_STATUSES:
            job = self._call(connection, "GET", job["links"]["self"] + "?wait=30")
        client_ms = (time.perf_counter() - t0) * 1000
        if job["status"] != "succeeded":
            raise RuntimeError(f"job of {article.id} {job['status']}: {job.get('error')}")
        result = job["result"]
        if len(result.get("stance") or []) != len(article.claims) or not result.get("summary"):
            raise RuntimeError(f"job of {article.id}: incomplete result")
        return {
            "id": article.id,
            "server_ms": _iso_ms(job["finished_at"]) - _iso_ms(job["created_at"]),
            "run_ms": _iso_ms(job["finished_at"]) - _iso_ms(job["started_at"]),
            "client_ms": client_ms,
        }


@dataclass
class Stack:
    """Redis and the API, started once; worker configurations come and go."""

    work: Path
    stance_backend: str
    redis: Any = None
    api: Any = None

    def start(self) -> Stack:
        self.redis = LocalRedis(self.work / "redis", fsync="no")
        self.redis.start()
        self.api = ApiProcess(
            self.redis.url, free_port(), self.work / "api.log", NEWSNLP_JOB_TTL_SECONDS="900"
        ).start()
        return self

    def stop(self) -> None:
        if self.api is not None:
            self.api.stop()
        if self.redis is not None:
            self.redis.stop()

    def kinds(self, worker: Any) -> dict[str, list[int]]:
        return {
            "worker main process": [worker.process.pid],
            "worker pool process (each)": descendants(worker.process.pid),
            "api gunicorn master": [self.api.process.pid],
            "api gunicorn worker (each)": descendants(self.api.process.pid),
            "redis-server": [self.redis.process.pid],
        }

    def worker(self, name: str, processes: int, threads: int) -> WorkerProcess:
        """A worker of `processes` x `threads` on this stack, started."""
        return WorkerProcess(
            self.redis.url, self.work / f"{name}.log", name=name, concurrency=processes,
            NEWSNLP_TORCH_THREADS=str(threads), NEWSNLP_WORKER_CONCURRENCY=str(processes),
            NEWSNLP_STANCE_BACKEND=self.stance_backend, NEWSNLP_JOB_TTL_SECONDS="900",
        ).start(timeout=120)  # fmt: skip

    def measure(
        self,
        name: str,
        label: str,
        processes: int,
        threads: int,
        articles: Sequence[Article],
        warmup: Sequence[Article],
        tokens: int,
    ) -> tuple[Phase, dict[str, dict[str, float]]]:
        worker = self.worker(name, processes, threads)
        try:
            # Enough outstanding jobs that a worker process never waits for the next one,
            # and few enough that the API's 8 request threads are never all held by ?wait.
            clients = 2 * processes + 2
            client = StackClient(self.api.url, clients)
            client.run(list(warmup) * processes)
            with MemorySampler(lambda: self.kinds(worker)) as sampler:
                seconds, results = client.run(articles)
        finally:
            worker.stop()
        phase = Phase(
            name, label, processes, threads, len(results), seconds, tokens,
            [r["server_ms"] for r in results],
            {
                "clients": clients,
                "run_ms": [r["run_ms"] for r in results],
                "client_ms": [r["client_ms"] for r in results],
                "latency": "created_at to finished_at on the server (queue wait included)",
            },
        )  # fmt: skip
        return phase, sampler.peaks

    def drain(
        self,
        name: str,
        label: str,
        threads: int,
        articles: Sequence[Article],
        warmup: Sequence[Article],
        tokens: int,
    ) -> Phase:
        """All jobs POSTed first, then one worker started: the queue without HTTP traffic
        during the run, from the first job's start to the last one's end (server clocks)."""
        import requests

        with requests.Session() as session:
            urls = []
            # The warm-up jobs first: FIFO, they warm the worker before the measured ones.
            for a in [*warmup, *articles]:
                response = session.post(f"{self.api.url}/v1/jobs", json=a.payload(), timeout=30)
                response.raise_for_status()
                urls.append(self.api.url + response.json()["links"]["self"])
            urls = urls[len(warmup) :]
            running = self.worker(name, 1, threads)
            try:
                bodies = [session.get(u, params={"wait": 60}, timeout=90).json() for u in urls]
            finally:
                running.stop()
        if any(b["status"] != "succeeded" for b in bodies):
            raise RuntimeError("a drained job did not succeed")
        start = min(_iso_ms(b["started_at"]) for b in bodies)
        end = max(_iso_ms(b["finished_at"]) for b in bodies)
        runs = [_iso_ms(b["finished_at"]) - _iso_ms(b["started_at"]) for b in bodies]
        return Phase(
            name, label, 1, threads, len(bodies), (end - start) / 1000, tokens, runs,
            {"latency": "started_at to finished_at (the run alone)"},
        )  # fmt: skip
