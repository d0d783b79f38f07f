"""The phases in one process: the worker's Analyzer in a loop, the raw forward."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from bench.corpus import Article, PreparedArticle
from bench.figures import Phase

logger = logging.getLogger(__name__)


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


class PerPairVerifier:
    """The naive claim verifier: the same network called on one (claim, sentence) pair at a
    time, in fp32."""

    def __init__(self, verifier: Any) -> None:
        import copy

        self.inner = copy.copy(verifier)
        self.inner.bfloat16 = False
        self.labels = verifier.labels

    def predict(self, claims: Sequence[str], passages: Sequence[str]) -> Any:
        rows = [self.inner.predict([c], [p]) for c, p in zip(claims, passages, strict=True)]
        return np.vstack(rows) if rows else np.zeros((0, len(self.labels)))


class NaivePipeline:
    """The naive design: sentence-transformers fp32 with its defaults, each article alone,
    the claims in a second call; then the service's own summarizer and stance detector, its
    claim verifier (where the model ships one) called pair by pair in fp32."""

    def __init__(self, stance: Any) -> None:
        import copy

        from sentence_transformers import SentenceTransformer

        from services.embeddings.minilm import packaged_minilm_path
        from services.summarize.extractive import ExtractiveSummarizer

        self.model = SentenceTransformer(str(packaged_minilm_path()), device="cpu")
        self.summarizer = ExtractiveSummarizer()
        if getattr(stance, "verifier", None) is not None:
            stance = copy.copy(stance)
            stance.verifier = PerPairVerifier(stance.verifier)
        self.stance = stance

    def analyze(self, a: Article) -> Outcome:
        from services.analysis import clean_request
        from services.summarize.extractive import SummaryOptions

        document = clean_request(a.request())
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


def run_in_process(articles: Sequence[Article], tokens: int, analyzer: Any, threads: int) -> Phase:
    """The worker's Analyzer in a loop (warmed up by the caller)."""
    outputs: dict[str, Outcome] = {}
    by_id: dict[str, float] = {}

    def run(a: Article) -> None:
        t0 = time.perf_counter()
        analysis = analyzer.analyze(a.request())
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
    _, again = _timed_loop(articles, lambda a: analyzer.analyze(a.request()))
    return {"resubmission_p50_ms": round(float(np.median(again)), 1)}


def inner_encoder(encoder: Any) -> Any:
    """The encoder itself, inside the cache that wraps it in the worker."""
    return getattr(encoder, "encoder", encoder)


def describe_encoder(encoder: Any) -> dict[str, Any]:
    inner = inner_encoder(encoder)
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
    inner = inner_encoder(encoder)
    batches = [inner.plan(p.texts) for p in prepared]  # tokenized before the clock starts
    tokens = sum(b.tokens for article in batches for b in article)

    seconds, latencies = _timed_loop(batches, lambda b: forward_batches(inner, b))
    padded = sum(b.input_ids.size for article in batches for b in article)
    return Phase(
        "raw", "raw model forward (same batches, pre-tokenized)", 1, threads,
        len(prepared), seconds, tokens, latencies,
        {"padded_tokens": padded, "batches": sum(len(b) for b in batches)},
    )  # fmt: skip
