"""A phase's figures, the ratios between phases, and the printed table."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bench.corpus import Article

logger = logging.getLogger(__name__)


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


def nearest_rank(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` quantile (0 < q <= 1) of `values`, as wrk reports its percentiles."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


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
