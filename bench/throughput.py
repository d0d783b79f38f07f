"""`make bench`: throughput of the pipeline against a naive design, in one run on this machine.

    python -m bench.throughput            # 250 CNN/DM articles + the reference article, <= 10 min
    python -m bench.throughput --quick    # 40 articles + the reference article, <= 2 min

The corpus is read from `NEWSNLP_DATA_DIR` (default ../shared/data): the CNN/DM-250 articles
and `samples/000_71cd1386a0965eff.txt`, each with 3 FNC-1 competition-test headlines as claims
(a fixed shuffle of the unique headlines, dealt 3 by 3). Warm-up uses other texts (FNC-1 test
bodies), so no measured article is ever in a cache before it is measured. Phases, in order:

1. naive: each article alone through a sentence-transformers fp32 `SentenceTransformer.encode`
   with its default settings, the claims in a second call, default torch threads, then the
   service's own cleaning, summarizer and stance detector on those vectors;
2. in-process: the worker's own Analyzer (`worker.wiring.build_analyzer`, the worker's thread
   settings) called in a loop;
3. raw model: the forward passes alone, over exactly the batches the pipeline's encoder makes
   for the same texts, tokenized beforehand;
4. end-to-end: POST /v1/jobs to gunicorn, Redis, one worker process with all cores, results
   fetched over HTTP (`?wait=`), with enough concurrent clients that the worker never idles;
5. scaling: the same with 1 worker process x 1 thread, then 2 processes x 1 thread.

Tokens are the encoder's real tokens ([CLS]/[SEP] included, truncated at 128) of every
sentence and claim of the corpus; every phase divides the same count by its own wall time.
The table and four ratio lines are printed; the figures go to var/bench/latest.json (a full
run also writes docs/bench-latest.json).
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import platform
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SAMPLE = "000_71cd1386a0965eff.txt"
CLAIMS_PER_ARTICLE = 3
CLAIM_SEED = 20150601
QUICK_ARTICLES = 40
WARMUP_ARTICLES = 4
# Even: with the order reversed every other round, every phase runs as often early in a round
# as late, so a steady drift of the machine's speed falls on all phases alike.
ROUNDS = 4


def data_dir() -> Path:
    return Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


# --- corpus ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    claims: tuple[str, ...]
    title: str | None = None

    def payload(self) -> dict[str, Any]:
        """The POST /v1/jobs body of this article."""
        article: dict[str, Any] = {"text": self.text}
        if self.title:
            article["title"] = self.title
        return {"article": article, "claims": list(self.claims), "tasks": ["summary", "stance"]}


def fnc_headlines(root: Path) -> list[str]:
    """The unique FNC-1 competition-test headlines, in a fixed shuffled order."""
    with open(root / "fnc1" / "competition_test_stances.csv", encoding="utf-8", newline="") as fh:
        headlines = sorted({row["Headline"].strip() for row in csv.DictReader(fh)})
    headlines = [h for h in headlines if 3 <= len(h) <= 500]
    order = np.random.default_rng(CLAIM_SEED).permutation(len(headlines))
    return [headlines[i] for i in order]


def build_corpus(root: Path, limit: int | None = None) -> tuple[list[Article], list[Article]]:
    """(measured articles, warm-up articles). Measured: CNN/DM (the first `limit`) and the
    reference article; warm-up: FNC-1 test bodies, with claims from the end of the deal."""
    cnndm = root / "cnndm" / "cnndm_test_250.jsonl"
    if not cnndm.is_file():
        raise FileNotFoundError(f"{cnndm} not found: set NEWSNLP_DATA_DIR to the shared data")
    with cnndm.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if limit is not None:
        rows = rows[:limit]
    headlines = fnc_headlines(root)
    reference = (root / "samples" / REFERENCE_SAMPLE).read_text(encoding="utf-8")
    texts = [(r["id"], r["article"]) for r in rows] + [("reference", reference)]
    articles = []
    for n, (article_id, text) in enumerate(texts):
        claims = headlines[n * CLAIMS_PER_ARTICLE : (n + 1) * CLAIMS_PER_ARTICLE]
        articles.append(Article(article_id, text, tuple(claims)))
    with open(root / "fnc1" / "competition_test_bodies.csv", encoding="utf-8", newline="") as fh:
        bodies = [r["articleBody"] for r in csv.DictReader(fh) if len(r["articleBody"]) > 1500]
    warmup = [
        Article(f"warmup-{i}", bodies[i], tuple(headlines[-(i + 1) * 3 :][:3]))
        for i in range(WARMUP_ARTICLES)
    ]
    return articles, warmup


@dataclass(frozen=True)
class PreparedArticle:
    """An article as the pipeline sees it: its cleaned sentences and its claims."""

    article: Article
    texts: tuple[str, ...]  # sentences, then claims


def prepare(articles: Sequence[Article]) -> list[PreparedArticle]:
    from services.analysis import AnalysisRequest, clean_request

    prepared = []
    for a in articles:
        document = clean_request(AnalysisRequest(text=a.text, title=a.title, claims=a.claims))
        prepared.append(PreparedArticle(a, tuple(s.text for s in document.sentences) + a.claims))
    return prepared


def count_tokens(prepared: Sequence[PreparedArticle], batcher: Any) -> int:
    """Real tokens of every sentence and claim, as the pipeline's tokenizer cuts them."""
    return sum(len(ids) for p in prepared for ids in batcher.token_ids(p.texts))


# --- figures --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    label: str
    processes: int
    threads: int
    articles: int
    seconds: float
    tokens: int
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def articles_per_s(self) -> float:
        return self.articles / self.seconds if self.seconds > 0 else 0.0

    @property
    def tokens_per_s(self) -> float:
        return self.tokens / self.seconds if self.seconds > 0 else 0.0

    def percentile(self, q: float) -> float | None:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else None

    def summary(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "processes": self.processes,
            "threads_per_process": self.threads,
            "articles": self.articles,
            "seconds": round(self.seconds, 3),
            "articles_per_s": round(self.articles_per_s, 3),
            "tokens": self.tokens,
            "tokens_per_s": round(self.tokens_per_s, 1),
            "p50_ms": _round(self.percentile(50)),
            "p95_ms": _round(self.percentile(95)),
            **{k: v for k, v in self.extra.items() if k not in PER_ARTICLE_EXTRAS},
            # The end-to-end phases' other clocks: the run alone, and what the client saw.
            **{
                k.replace("_ms", "_p50_ms"): round(float(np.median(self.extra[k])), 1)
                for k in ("run_ms", "client_ms")
                if self.extra.get(k)
            },
        }


PER_ARTICLE_EXTRAS = ("outcomes", "latency_by_id", "run_ms", "client_ms")


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


RATIO_LINES = (
    ("queue overhead ratio (e2e/in-process)", "queue_overhead", 0.95),
    ("speedup vs naive", "speedup_vs_naive", 3.0),
    ("worker scaling (2/1)", "worker_scaling", 1.7),
    ("model-limit ratio (pipeline/raw tokens per s)", "model_limit", 0.8),
)


def ratios(phases: dict[str, Phase]) -> dict[str, float]:
    """The four ratios, each from figures of this run's phases."""
    return {
        "queue_overhead": phases["e2e"].articles_per_s / phases["in_process"].articles_per_s,
        "speedup_vs_naive": phases["in_process"].articles_per_s / phases["naive"].articles_per_s,
        "worker_scaling": phases["e2e_2x1"].articles_per_s / phases["e2e_1x1"].articles_per_s,
        "model_limit": phases["in_process"].tokens_per_s / phases["raw"].tokens_per_s,
    }


def format_table(phases: dict[str, Phase], memory: dict[str, dict[str, float]]) -> str:
    head = (
        f"{'phase':<46}{'procs x thr':>12}{'articles':>9}{'art/s':>8}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'tokens/s':>10}"
    )
    lines = [head, "-" * len(head)]
    for phase in phases.values():
        p50, p95 = phase.percentile(50), phase.percentile(95)
        lines.append(
            f"{phase.label:<46}{f'{phase.processes} x {phase.threads}':>12}{phase.articles:>9}"
            f"{phase.articles_per_s:>8.2f}{_fmt(p50):>9}{_fmt(p95):>9}{phase.tokens_per_s:>10.0f}"
        )
    if memory:
        lines.append("")
        mhead = f"{'process kind (peak over the e2e phases)':<46}{'RSS MB':>10}{'PSS MB':>10}"
        lines += [mhead, "-" * len(mhead)]
        for kind, m in memory.items():
            lines.append(f"{kind:<46}{m['rss_mb']:>10.0f}{m['pss_mb']:>10.0f}")
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def ratio_lines(values: dict[str, float]) -> list[str]:
    return [f"{text}: {values[key]:.2f}" for text, key, _ in RATIO_LINES]


# --- in-process phases ----------------------------------------------------------------------


def _timed_loop(items: Sequence[Any], run: Callable[[Any], None]) -> tuple[float, list[float]]:
    latencies = []
    cpu = time.process_time()
    start = time.perf_counter()
    for item in items:
        t0 = time.perf_counter()
        run(item)
        latencies.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - start
    logger.info(
        "  %d items in %.2f s wall, %.2f s cpu", len(items), seconds, time.process_time() - cpu
    )
    return seconds, latencies


class NaivePipeline:
    """The naive design: sentence-transformers fp32 with its defaults, each article alone,
    the claims in a second call; then the service's own summarizer and stance detector."""

    def __init__(self, stance: Any) -> None:
        from sentence_transformers import SentenceTransformer

        from services.embeddings.minilm import packaged_minilm_path
        from services.summarize.extractive import ExtractiveSummarizer

        self.model = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
        self.summarizer = ExtractiveSummarizer()
        self.stance = stance

    def analyze(self, a: Article) -> Outcome:
        from services.analysis import AnalysisRequest, clean_request
        from services.summarize.extractive import SummaryOptions

        document = clean_request(AnalysisRequest(text=a.text, title=a.title, claims=a.claims))
        sentences = self.model.encode([s.text for s in document.sentences])
        claims = self.model.encode(list(a.claims))
        summary = self.summarizer.summarize(document, sentences, SummaryOptions())
        return outcome(summary, self.stance.detect(list(a.claims), document, sentences, claims))


def run_naive(articles: Sequence[Article], tokens: int, naive: NaivePipeline) -> Phase:
    """Each article alone through the naive design (warmed up by the caller)."""
    import torch

    outputs: dict[str, Outcome] = {}

    def run(a: Article) -> None:
        outputs[a.id] = naive.analyze(a)

    seconds, latencies = _timed_loop(articles, run)
    return Phase(
        "naive", "naive (sentence-transformers fp32, per article)", 1, torch.get_num_threads(),
        len(articles), seconds, tokens, latencies,
        {"max_seq_length": naive.model.max_seq_length, "batch_size": 32, "outcomes": outputs},
    )  # fmt: skip


Outcome = tuple[tuple[int, ...], tuple[str, ...]]


def outcome(summary: Any, stances: Any) -> Outcome:
    """What an analysis decided: the summary's sentence indices and the stance labels."""
    return tuple(s.index for s in summary.sentences), tuple(s.label for s in stances)


def agreement(a: dict[str, Outcome], b: dict[str, Outcome]) -> dict[str, float]:
    """Share of articles whose summary picks, and of claims whose stance labels, are equal."""
    ids = sorted(set(a) & set(b))
    summaries = sum(a[i][0] == b[i][0] for i in ids) / max(len(ids), 1)
    pairs = [(x, y) for i in ids for x, y in zip(a[i][1], b[i][1], strict=True)]
    labels = sum(x == y for x, y in pairs) / max(len(pairs), 1)
    return {
        "articles": len(ids),
        "same_summary": round(summaries, 4),
        "same_stance": round(labels, 4),
    }


def worker_settings(stance_backend: str, threads: int, processes: int = 1) -> Any:
    from worker.settings import WorkerSettings

    return WorkerSettings.from_env(
        {
            "NEWSNLP_STANCE_BACKEND": stance_backend,
            "NEWSNLP_TORCH_THREADS": str(threads),
            "NEWSNLP_WORKER_CONCURRENCY": str(processes),
            **{k: v for k, v in os.environ.items() if k.startswith("NEWSNLP_ENCODER")},
        }
    )


def _request(a: Article) -> Any:
    from services.analysis import AnalysisRequest

    return AnalysisRequest(text=a.text, title=a.title, claims=a.claims)


def run_in_process(articles: Sequence[Article], tokens: int, analyzer: Any, threads: int) -> Phase:
    """The worker's Analyzer in a loop (warmed up by the caller)."""
    outputs: dict[str, Outcome] = {}

    by_id: dict[str, float] = {}

    def run(a: Article) -> None:
        t0 = time.perf_counter()
        analysis = analyzer.analyze(_request(a))
        by_id[a.id] = (time.perf_counter() - t0) * 1000
        outputs[a.id] = outcome(analysis.summary, analysis.stance)

    cache = analyzer.encoder if hasattr(analyzer.encoder, "hits") else None
    hits_before = (cache.hits, cache.misses) if cache else (0, 0)
    seconds, latencies = _timed_loop(articles, run)
    extra: dict[str, Any] = {
        "encoder": describe_encoder(analyzer.encoder),
        "outcomes": outputs,
        "latency_by_id": by_id,
    }
    if cache is not None:
        extra["cache_hits"] = cache.hits - hits_before[0]
        extra["cache_misses"] = cache.misses - hits_before[1]
    return Phase(
        "in_process", "in-process (worker's Analyzer in a loop)", 1, threads,
        len(articles), seconds, tokens, latencies, extra,
    )  # fmt: skip


def resubmission(analyzer: Any, articles: Sequence[Article]) -> dict[str, float]:
    """p50 of articles analyzed again (their vectors in the encoder's cache)."""
    _, again = _timed_loop(articles, lambda a: analyzer.analyze(_request(a)))
    return {"resubmission_p50_ms": round(float(np.median(again)), 1)}


def describe_encoder(encoder: Any) -> dict[str, Any]:
    inner = getattr(encoder, "encoder", encoder)
    info: dict[str, Any] = {"class": type(inner).__name__, "cache": inner is not encoder}
    for name in ("dtype", "model_file"):
        if hasattr(inner, name):
            info[name] = str(getattr(inner, name))
    batcher = getattr(inner, "batcher", None)
    if batcher is not None:
        info.update(
            max_length=batcher.max_length,
            max_batch_tokens=batcher.max_batch_tokens,
            max_batch_size=batcher.max_batch_size,
            max_padding=batcher.max_padding,
        )
    return info


def forward_batches(inner: Any, batches: Sequence[Any]) -> None:
    """The encoder's forward passes over `batches`, as the encoder runs them: on its own
    threads when it has several."""
    if hasattr(inner, "map"):
        inner.map(inner.forward, batches)
    else:
        for batch in batches:
            inner.forward(batch)


def run_raw(prepared: Sequence[PreparedArticle], encoder: Any, threads: int) -> Phase:
    """The encoder's forward passes alone, over the batches the pipeline makes (warmed up
    by the caller)."""
    inner = getattr(encoder, "encoder", encoder)
    batches = [inner.plan(p.texts) for p in prepared]  # tokenized before the clock starts
    tokens = sum(b.tokens for article in batches for b in article)

    seconds, latencies = _timed_loop(batches, lambda b: forward_batches(inner, b))
    padded = sum(b.input_ids.size for article in batches for b in article)
    return Phase(
        "raw", "raw model forward (same batches, pre-tokenized)", 1, threads,
        len(prepared), seconds, tokens, latencies,
        {"padded_tokens": padded, "batches": sum(len(b) for b in batches)},
    )  # fmt: skip


# --- end-to-end phases ----------------------------------------------------------------------


def _status_value(pid: int, field_name: str) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(field_name + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def _pss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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
                peak["rss_mb"] = max(peak["rss_mb"], _status_value(pid, "VmHWM"))
                peak["pss_mb"] = max(peak["pss_mb"], _pss_mb(pid))

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
        while job["status"] not in ("succeeded", "failed", "canceled"):
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
        from devstack.local_redis import LocalRedis, free_port
        from devstack.processes import ApiProcess

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
        from devstack.processes import descendants

        return {
            "worker main process": [worker.process.pid],
            "worker pool process (each)": descendants(worker.process.pid),
            "api gunicorn master": [self.api.process.pid],
            "api gunicorn worker (each)": descendants(self.api.process.pid),
            "redis-server": [self.redis.process.pid],
        }

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
        from devstack.processes import WorkerProcess

        worker = WorkerProcess(
            self.redis.url, self.work / f"{name}.log", name=name, concurrency=processes,
            NEWSNLP_TORCH_THREADS=str(threads), NEWSNLP_WORKER_CONCURRENCY=str(processes),
            NEWSNLP_STANCE_BACKEND=self.stance_backend, NEWSNLP_JOB_TTL_SECONDS="900",
        )  # fmt: skip
        worker.start(timeout=120)
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

        from devstack.processes import WorkerProcess

        def worker(suffix: str) -> Any:
            return WorkerProcess(
                self.redis.url, self.work / f"{name}{suffix}.log", name=name + suffix,
                NEWSNLP_TORCH_THREADS=str(threads), NEWSNLP_WORKER_CONCURRENCY="1",
                NEWSNLP_STANCE_BACKEND=self.stance_backend, NEWSNLP_JOB_TTL_SECONDS="900",
            ).start(timeout=120)  # fmt: skip

        with requests.Session() as session:
            urls = []
            # The warm-up jobs first: FIFO, they warm the worker before the measured ones.
            for a in [*warmup, *articles]:
                response = session.post(f"{self.api.url}/v1/jobs", json=a.payload(), timeout=30)
                response.raise_for_status()
                urls.append(self.api.url + response.json()["links"]["self"])
            urls = urls[len(warmup) :]
            running = worker("")
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


# --- the run --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    model = ""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith(("flags", "Features")) and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import torch

    return {
        "cpu": model or platform.processor(),
        # The CPU's native bfloat16 (the encoder's default dtype follows it); with AMX,
        # oneDNN compiles its kernels per shape.
        "cpu_bf16": sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"}),
        "cores": cores(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def default_stance_backend() -> str:
    from worker.settings import DEFAULT_STANCE_MODEL

    return "trained" if (DEFAULT_STANCE_MODEL / "stance_model.json").is_file() else "similarity"


def _child_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    for noisy in ("sentence_transformers", "transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# Each phase runs in a process of its own that stays up from round to round (`Runner`):
# the naive design in one started with the user's environment and torch's defaults, the
# pipeline (in-process and raw model) in one set up as a worker's pool process is. The state
# of each lives in this module's `_STATE` inside that process.
_STATE: dict[str, Any] = {}


def _naive_init(stance_backend: str, warmup: list[Article]) -> None:
    _child_logging()
    import torch  # noqa: F401 - first, before the worker's modules set their OpenMP defaults

    from worker.wiring import build_stance_detector

    naive = NaivePipeline(build_stance_detector(worker_settings(stance_backend, cores())))
    for a in warmup:
        naive.analyze(a)
    _STATE["naive"] = naive


def _naive_chunk(articles: list[Article], tokens: int) -> Phase:
    phase = run_naive(articles, tokens, _STATE["naive"])
    phase.extra["process_peak_rss_mb"] = round(_status_value(os.getpid(), "VmHWM"), 1)
    return phase


def _pipeline_init(stance_backend: str, threads: int, warmup: list[Article]) -> None:
    _child_logging()
    from jobs.heap import freeze_startup_heap
    from worker.runtime import configure_threads, thread_count
    from worker.wiring import build_analyzer

    settings = worker_settings(stance_backend, threads)
    configure_threads(settings)
    analyzer = build_analyzer(settings)
    inner = getattr(analyzer.encoder, "encoder", analyzer.encoder)
    for a, p in zip(warmup, prepare(warmup), strict=True):
        analyzer.analyze(_request(a))
        forward_batches(inner, inner.plan(p.texts))  # the raw loop's own warm-up
    freeze_startup_heap()  # as a pool process does once its models are loaded
    _STATE["analyzer"] = analyzer
    # The process's threads, however the encoder uses them.
    _STATE["threads"] = thread_count(settings)


def _inner_encoder() -> Any:
    encoder = _STATE["analyzer"].encoder
    return getattr(encoder, "encoder", encoder)


def _chunk_tokens(articles: list[Article]) -> tuple[int, int]:
    """(tokens, texts) of the articles' sentences and claims, as the encoder cuts them."""
    prepared = prepare(articles)
    return count_tokens(prepared, _inner_encoder().batcher), sum(len(p.texts) for p in prepared)


def _in_process_chunk(articles: list[Article]) -> Phase:
    tokens, _ = _chunk_tokens(articles)
    phase = run_in_process(articles, tokens, _STATE["analyzer"], _STATE["threads"])
    phase.extra["process_peak_rss_mb"] = round(_status_value(os.getpid(), "VmHWM"), 1)
    return phase


def _raw_chunk(articles: list[Article]) -> Phase:
    return run_raw(prepare(articles), _STATE["analyzer"].encoder, _STATE["threads"])


def _resubmission(articles: list[Article]) -> dict[str, float]:
    return resubmission(_STATE["analyzer"], articles)


class Runner:
    """A spawned Python process, started with `environ`, that keeps what `initializer`
    loaded (models, warmed up) from one call to the next."""

    def __init__(
        self, environ: dict[str, str], initializer: Callable[..., None], *initargs: Any
    ) -> None:
        import multiprocessing

        saved = dict(os.environ)
        os.environ.clear()
        os.environ.update(environ)
        try:
            self.pool = multiprocessing.get_context("spawn").Pool(1, initializer, initargs)
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def call(self, func: Callable[..., Any], *args: Any) -> Any:
        return self.pool.apply(func, args)

    def close(self) -> None:
        self.pool.close()  # a clean exit, not terminate(): the child's own cleanup runs
        self.pool.join()


def deal(articles: Sequence[Article], rounds: int) -> list[list[Article]]:
    """The corpus dealt into `rounds` parts (article i to part i mod rounds): parts alike."""
    n = max(1, min(rounds, len(articles)))
    return [list(articles[r::n]) for r in range(n)]


def combine(parts: Sequence[Phase]) -> Phase:
    """A phase from its rounds: articles, seconds and tokens added up, latencies joined,
    per-article records merged, counts added up."""
    first = parts[0]
    extra: dict[str, Any] = {}
    for part in parts:
        for key, value in part.extra.items():
            if isinstance(value, list):
                extra[key] = extra.get(key, []) + value
            elif isinstance(value, dict) and key in ("outcomes", "latency_by_id"):
                extra[key] = {**extra.get(key, {}), **value}
            elif key in SUMMED_EXTRAS:
                extra[key] = extra.get(key, 0) + value
            elif key == "process_peak_rss_mb":
                extra[key] = max(extra.get(key, 0.0), value)
            else:
                extra[key] = value
    extra["rounds"] = len(parts)
    # How far the machine's speed moved between rounds, for whoever reads a run's figures.
    extra["round_articles_per_s"] = [round(p.articles_per_s, 2) for p in parts]
    return Phase(
        first.name, first.label, first.processes, first.threads,
        sum(p.articles for p in parts), sum(p.seconds for p in parts),
        sum(p.tokens for p in parts), [x for p in parts for x in p.latencies_ms], extra,
    )  # fmt: skip


SUMMED_EXTRAS = ("cache_hits", "cache_misses", "padded_tokens", "batches")


def run(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, Any]:
    """All phases, in rounds. `environ` is the environment as the user gave it, before any
    module of the worker added its defaults: the naive phase runs with it as it is.

    The machine's speed drifts (a virtual machine's neighbours, its memory reclaim): measured
    here, the same in-process loop ran anywhere from 9.7 to 11.8 articles/s minutes apart.
    A phase measured minutes after another would carry that drift into their ratio, so the
    corpus is dealt into `rounds` parts and every round runs every phase on its part, the
    order reversed every other round; a phase's figures are the sums over its rounds. The
    order puts the two phases of each ratio next to each other (raw and in-process,
    in-process and end to end, 1 x 1 and 2 x 1), a few seconds apart instead of twenty.
    """
    from devstack.processes import REPO_ROOT as ROOT
    from worker.runtime import set_openmp_defaults

    root = data_dir()
    limit = args.articles if args.articles is not None else (QUICK_ARTICLES if args.quick else None)
    articles, warmup = build_corpus(root, limit)
    stance_backend = args.stance or default_stance_backend()
    all_cores = args.threads or cores()
    rounds = args.rounds or (1 if args.quick else ROUNDS)
    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    logger.info("corpus: %d articles, stance backend %s", len(articles), stance_backend)

    worker_environ = dict(environ)
    set_openmp_defaults(worker_environ)
    configs = [] if args.in_process_only else [
        ("e2e", "end-to-end (HTTP, Redis, 1 worker, all cores)", 1, all_cores),
        ("e2e_1x1", "end-to-end, 1 worker process x 1 thread", 1, 1),
        ("e2e_2x1", "end-to-end, 2 worker processes x 1 thread", 2, 1),
    ]  # fmt: skip
    order = ["naive", "raw", "in_process", *(name for name, *_ in configs)]
    parts: dict[str, list[Phase]] = {name: [] for name in order}
    peaks: list[dict[str, dict[str, float]]] = []
    naive = Runner(environ, _naive_init, stance_backend, warmup)
    pipeline = Runner(worker_environ, _pipeline_init, stance_backend, all_cores, warmup)
    stack = None
    try:
        if configs:
            work = ROOT / "var" / "bench" / "stack"
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
            stack = Stack(work, stance_backend).start()
        total_tokens = total_texts = 0
        for r, part in enumerate(deal(articles, rounds)):
            tokens, texts = pipeline.call(_chunk_tokens, part)
            total_tokens, total_texts = total_tokens + tokens, total_texts + texts
            for name in order if r % 2 == 0 else reversed(order):
                if name == "naive":
                    phase = naive.call(_naive_chunk, part, tokens)
                elif name == "in_process":
                    phase = pipeline.call(_in_process_chunk, part)
                elif name == "raw":
                    phase = pipeline.call(_raw_chunk, part)
                    if phase.tokens != tokens:
                        raise AssertionError(f"raw counted {phase.tokens} tokens, not {tokens}")
                else:
                    assert stack is not None
                    _, label, procs, threads = next(c for c in configs if c[0] == name)
                    phase, peak = stack.measure(name, label, procs, threads, part, warmup, tokens)
                    peaks.append(peak)
                parts[name].append(phase)
                logger.info("round %d/%d %s: %.2f articles/s", r + 1, rounds, name,
                            phase.articles_per_s)  # fmt: skip
        phases = {name: combine(parts[name]) for name in order}
        again = articles[: min(20, len(articles))]
        phases["in_process"].extra.update(pipeline.call(_resubmission, again))
        first = phases["in_process"].extra["latency_by_id"]
        phases["in_process"].extra["first_submission_p50_ms"] = round(
            float(np.median([first[a.id] for a in again])), 1
        )
        if stack is not None:
            # Not one of the four ratios: what the queue costs when no HTTP shares the cores.
            phases["e2e_drain"] = stack.drain(
                "e2e_drain", "queue drained (jobs POSTed first), 1 worker", all_cores,
                articles, warmup, total_tokens,
            )  # fmt: skip
            logger.info("e2e_drain: %.2f articles/s", phases["e2e_drain"].articles_per_s)
    finally:
        if stack is not None:
            stack.stop()
        naive.close()
        pipeline.close()
    memory = merge_peaks(*peaks)

    figures: dict[str, Any] = {
        "command": "python -m bench.throughput" + (" --quick" if args.quick else ""),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": {**machine(), "load_average_before": load_before},
        "corpus": {
            "articles": len(articles),
            "claims_per_article": CLAIMS_PER_ARTICLE,
            # The parts split the corpus: their counts add up to the whole's.
            "sentences_and_claims": total_texts,
            "tokens": total_tokens,
            "stance_backend": stance_backend,
        },
        "rounds": rounds,
        "phases": {name: p.summary() for name, p in phases.items()},
        # Same algorithms on other vectors: how often the naive design decided the same.
        "agreement_naive_vs_in_process": agreement(
            phases["naive"].extra["outcomes"], phases["in_process"].extra["outcomes"]
        ),
        "memory": memory,
        "in_process_peak_rss_mb": {
            "naive": phases["naive"].extra.get("process_peak_rss_mb"),
            "in_process_and_raw": phases["in_process"].extra.get("process_peak_rss_mb"),
        },
    }
    if not args.in_process_only:
        figures["ratios"] = {k: round(v, 4) for k, v in ratios(phases).items()}
        figures["targets"] = {key: target for _, key, target in RATIO_LINES}
        figures["targets"]["worker_peak_rss_mb"] = 600
    figures["table"] = format_table(phases, memory)
    return figures


def write_figures(figures: dict[str, Any], paths: Iterable[Path]) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ARTICLES} articles")
    parser.add_argument("--articles", type=int, default=None, help="first N CNN/DM articles")
    parser.add_argument("--stance", choices=("trained", "similarity"), default=None)
    parser.add_argument(
        "--threads", type=int, default=None, help="threads of one process (default: all cores)"
    )
    parser.add_argument("--out", type=Path, default=None, help="JSON file of the figures")
    parser.add_argument("--in-process-only", action="store_true", help="skip the end-to-end phases")
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"rounds (default {ROUNDS}; --quick: 1)"
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)  # before any worker module adds its OpenMP defaults
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        figures = run(args, environ)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    default = REPO_ROOT / "var" / "bench" / ("quick.json" if args.quick else "latest.json")
    paths = [args.out] if args.out else [default]
    if not args.out and not args.quick and args.articles is None:
        paths.append(REPO_ROOT / "docs" / "bench-latest.json")
    write_figures(figures, paths)
    m = figures["machine"]
    print(f"newsnlp bench, {figures['command']}, {figures['started']}")
    bf16 = ", ".join(m["cpu_bf16"]) or "none"
    print(
        f"machine: {m['cpu']}, {m['cores']} cores, native bf16: {bf16}, "
        f"load average before {m['load_average_before']}"
    )
    corpus = figures["corpus"]
    print(f"corpus: {corpus['articles']} articles x {CLAIMS_PER_ARTICLE} claims, "
          f"{corpus['tokens']} tokens, stance {corpus['stance_backend']}")  # fmt: skip
    print()
    print(figures["table"])
    extra = figures["phases"]["in_process"]
    if "resubmission_p50_ms" in extra:
        print(f"\nresubmitted article (encoder cache): p50 {extra['resubmission_p50_ms']} ms "
              f"vs {extra['first_submission_p50_ms']} ms the first time")  # fmt: skip
    same = figures["agreement_naive_vs_in_process"]
    print(f"same decisions as the naive design: summary {same['same_summary']:.1%} of articles, "
          f"stance {same['same_stance']:.1%} of claims")  # fmt: skip
    if "ratios" in figures:
        print()
        for line in ratio_lines(figures["ratios"]):
            print(line)
    print(f"\nfigures: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
