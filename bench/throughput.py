"""`make bench`: throughput of the pipeline against a naive design, in one run on this machine.

    python -m bench.throughput            # 250 CNN/DM articles + the reference article, <= 10 min
    python -m bench.throughput --quick    # 40 articles + the reference article, <= 2 min

The corpus comes from `NEWSNLP_DATA_DIR` (bench.corpus); the phases (naive, in-process, raw
model, end to end, scaling), the rounds and the ratios are described in docs/bench.md. The
table and the ratio lines are printed; the figures go to var/bench/latest.json (a full run
also writes docs/bench-latest.json).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpus import (
    CLAIMS_PER_ARTICLE,
    QUICK_ARTICLES,
    REPO_ROOT,
    ROUNDS,
    Article,
    build_corpus,
    cores,
    count_tokens,
    data_dir,
    prepare,
)
from bench.end_to_end import Stack, merge_peaks
from bench.figures import RATIO_LINES, Phase, combine, deal, format_table, ratio_lines, ratios
from bench.in_process import (
    NaivePipeline,
    agreement,
    forward_batches,
    inner_encoder,
    resubmission,
    run_in_process,
    run_naive,
    run_raw,
    worker_settings,
)
from bench.machine import describe_machine
from devstack.processes import fresh_dir, proc_mb

logger = logging.getLogger(__name__)


def default_stance_backend() -> str:
    from worker.settings import DEFAULT_STANCE_MODEL

    return "trained" if (DEFAULT_STANCE_MODEL / "stance_model.json").is_file() else "similarity"


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr
    )
    for noisy in ("sentence_transformers", "transformers", "httpx", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# Each phase runs in a process of its own that stays up from round to round (`Runner`):
# the naive design in one started with the user's environment and torch's defaults, the
# pipeline (in-process and raw model) in one set up as a worker's pool process is. The state
# of each lives in this module's `_STATE` inside that process.
_STATE: dict[str, Any] = {}


def _naive_init(stance_backend: str, warmup: list[Article]) -> None:
    _logging()
    import torch  # noqa: F401 - first, before the worker's modules set their OpenMP defaults

    from worker.wiring import build_stance_detector

    naive = NaivePipeline(build_stance_detector(worker_settings(stance_backend, cores())))
    for a in warmup:
        naive.analyze(a)
    _STATE["naive"] = naive


def _with_peak_rss(phase: Phase) -> Phase:
    phase.extra["process_peak_rss_mb"] = round(proc_mb(os.getpid(), "VmHWM"), 1)
    return phase


def _naive_chunk(articles: list[Article], tokens: int) -> Phase:
    return _with_peak_rss(run_naive(articles, tokens, _STATE["naive"]))


def _pipeline_init(stance_backend: str, threads: int, warmup: list[Article]) -> None:
    _logging()
    from jobs.heap import freeze_startup_heap
    from worker.runtime import configure_threads, thread_count
    from worker.wiring import build_analyzer

    settings = worker_settings(stance_backend, threads)
    configure_threads(settings)
    analyzer = build_analyzer(settings)
    inner = inner_encoder(analyzer.encoder)
    for a, p in zip(warmup, prepare(warmup), strict=True):
        analyzer.analyze(a.request())
        forward_batches(inner, inner.plan(p.texts))  # the raw loop's own warm-up
    freeze_startup_heap()  # as a pool process does once its models are loaded
    _STATE["analyzer"] = analyzer
    # The process's threads, however the encoder uses them.
    _STATE["threads"] = thread_count(settings)


def _chunk_tokens(articles: list[Article]) -> tuple[int, int]:
    """(tokens, texts) of the articles' sentences and claims, as the encoder cuts them."""
    prepared = prepare(articles)
    batcher = inner_encoder(_STATE["analyzer"].encoder).batcher
    return count_tokens(prepared, batcher), sum(len(p.texts) for p in prepared)


def _in_process_chunk(articles: list[Article]) -> Phase:
    tokens, _ = _chunk_tokens(articles)
    return _with_peak_rss(run_in_process(articles, tokens, _STATE["analyzer"], _STATE["threads"]))


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


def run(args: argparse.Namespace, environ: dict[str, str]) -> dict[str, Any]:
    """All phases, in rounds (docs/bench.md: the machine's drift falls on all phases alike;
    the two phases of each ratio run next to each other). `environ` is the environment as
    the user gave it, before any module of the worker added its defaults: the naive phase
    runs with it as it is."""
    from worker.runtime import set_openmp_defaults

    root = data_dir()
    limit = args.articles if args.articles is not None else (QUICK_ARTICLES if args.quick else None)
    articles, warmup = build_corpus(root, limit)
    stance_backend = args.stance or default_stance_backend()
    all_cores = cores()
    rounds = args.rounds or (1 if args.quick else ROUNDS)
    started = datetime.now(UTC)
    load_before = [round(x, 2) for x in os.getloadavg()]
    logger.info("corpus: %d articles, stance backend %s", len(articles), stance_backend)

    worker_environ = dict(environ)
    set_openmp_defaults(worker_environ)
    configs = [
        ("e2e", "end-to-end (HTTP, Redis, 1 worker, all cores)", 1, all_cores),
        ("e2e_1x1", "end-to-end, 1 worker process x 1 thread", 1, 1),
        ("e2e_2x1", "end-to-end, 2 worker processes x 1 thread", 2, 1),
    ]
    default = default_config(all_cores)
    if default not in {(procs, threads) for *_, procs, threads in configs}:
        configs.append(("e2e_default", "end-to-end, the worker's default", *default))
    order = ["naive", "raw", "in_process", *(name for name, *_ in configs)]
    parts: dict[str, list[Phase]] = {name: [] for name in order}
    peaks: list[dict[str, dict[str, float]]] = []
    naive = Runner(environ, _naive_init, stance_backend, warmup)
    pipeline = Runner(worker_environ, _pipeline_init, stance_backend, all_cores, warmup)
    stack = Stack(fresh_dir("bench", "stack"), stance_backend)
    try:
        stack.start()
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
        # Not one of the four ratios: what the queue costs when no HTTP shares the cores.
        phases["e2e_drain"] = stack.drain(
            "e2e_drain", "queue drained (jobs POSTed first), 1 worker", all_cores,
            articles, warmup, total_tokens,
        )  # fmt: skip
        logger.info("e2e_drain: %.2f articles/s", phases["e2e_drain"].articles_per_s)
    finally:
        stack.stop()
        naive.close()
        pipeline.close()
    memory = merge_peaks(*peaks)

    figures: dict[str, Any] = {
        "command": "python -m bench.throughput" + (" --quick" if args.quick else ""),
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "machine": {**describe_machine(), "load_average_before": load_before},
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
    name = next(n for n, *_, procs, thr in configs if (procs, thr) == default)
    figures["default_config"] = {"phase": name, "processes": default[0], "threads": default[1]}
    figures["ratios"] = {k: round(v, 4) for k, v in ratios(phases).items()}
    figures["targets"] = {key: target for _, key, target in RATIO_LINES}
    figures["targets"]["worker_peak_rss_mb"] = 600
    figures["table"] = format_table(phases, memory)
    return figures


def default_config(all_cores: int) -> tuple[int, int]:
    """The worker's default processes x threads on this machine (worker/machine.py's rule,
    which `make run`, the image and Kubernetes start with)."""
    from worker.machine import default_worker_concurrency

    processes = min(default_worker_concurrency(), all_cores)
    return processes, max(1, all_cores // processes)


def write_figures(figures: dict[str, Any], paths: Iterable[Path]) -> None:
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ARTICLES} articles")
    parser.add_argument("--articles", type=int, default=None, help="first N CNN/DM articles")
    parser.add_argument("--stance", choices=("trained", "similarity"), default=None)
    parser.add_argument("--out", type=Path, default=None, help="JSON file of the figures")
    parser.add_argument(
        "--rounds", type=int, default=None, help=f"rounds (default {ROUNDS}; --quick: 1)"
    )
    args = parser.parse_args(argv)
    environ = dict(os.environ)  # before any worker module adds its OpenMP defaults
    _logging()
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
    d = figures["default_config"]
    phase = figures["phases"][d["phase"]]
    print(f"\nthe worker's default here ({d['processes']} x {d['threads']}, "
          f"NEWSNLP_WORKER_CONCURRENCY unset): {phase['articles_per_s']:.2f} articles/s "
          f"end to end")  # fmt: skip
    print()
    for line in ratio_lines(figures["ratios"]):
        print(line)
    print(f"\nfigures: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
