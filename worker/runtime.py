"""Per-process runtime setup: thread counts, so that processes x threads <= cores."""

from __future__ import annotations

import logging
import os
from collections.abc import MutableMapping

from worker import machine
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

# libgomp, torch's OpenMP runtime, makes a thread that waits at the end of a parallel region
# spin for 300,000 iterations before it sleeps. When another busy process holds one of the
# cores (the API, Redis, a second worker, a neighbour), the spinning threads and the one they
# wait for fight over it: measured here, two 2-thread processes on 2 cores ran 8x slower than
# with 10,000, which costs nothing on an idle machine. libgomp reads this once, when torch
# loads it, so `worker.main` sets it before anything imports torch. An explicit
# GOMP_SPINCOUNT or OMP_WAIT_POLICY in the environment wins.
OPENMP_DEFAULTS = {"GOMP_SPINCOUNT": "10000"}


def set_openmp_defaults(environ: MutableMapping[str, str] = os.environ) -> None:
    if "OMP_WAIT_POLICY" not in environ:
        for variable, value in OPENMP_DEFAULTS.items():
            environ.setdefault(variable, value)


# oneDNN (torch's CPU kernels) keeps a compiled kernel per input shape, 1,024 by default in two
# caches; padding-aware batches have many shapes, and bfloat16 kernels are large: uncapped,
# a worker grows by ~6 MB a job for its first hundreds of jobs. 64 keeps the worker flat
# (~540 MB) at no measurable cost in speed. Read at the first kernel, so set before any job.
ONEDNN_CACHE_CAPACITY = "64"


def thread_count(settings: WorkerSettings) -> int:
    if settings.torch_threads > 0:
        return settings.torch_threads
    return max(1, machine.cores() // settings.concurrency)


def encoder_threads(settings: WorkerSettings) -> int:
    """Threads of the torch sentence encoder's own (each batch split over them).

    The process's share of the cores when the encoder is its only torch model (the default
    worker: extractive summaries, trained or similarity stance); then torch itself runs one
    thread per call. With a seq2seq summarizer or an NLI stance model, which compute through
    torch's intra-op threads, the encoder runs on those too (1 here).

    Why: torch's intra-op threads meet at every operation, thousands of times an article, so
    a thread that loses its core for a moment (to the API, Redis or the queue on the same
    machine) stalls the others. A study of this (since removed) on 2 cores: 11.75 vs 12.34
    articles/s idle, 11.18 vs 12.03 beside a neighbour busy 1 ms in 10 (intra-op threads vs
    the encoder's own); end to end (100 articles over HTTP to one worker), the p50 of the
    worker's run of an article went from 110-113 ms to 89 ms.
    """
    only_torch_model = settings.summarizer == "extractive" and settings.stance_backend != "nli"
    if settings.encoder == "torch" and only_torch_model:
        return thread_count(settings)
    return 1


def torch_threads(settings: WorkerSettings) -> int:
    """torch's intra-op threads: 1 when the encoder runs threads of its own, else the share."""
    return 1 if encoder_threads(settings) > 1 else thread_count(settings)


def configure_threads(settings: WorkerSettings) -> None:
    """Give this process its share of the cores and bound torch's kernel caches.

    torch (and its MKL/oneDNN) gets `torch_threads`, numpy's own BLAS one thread (its
    products here are tiny, and a second pool of spinning threads would fight torch's);
    the encoder its `encoder_threads` and ONNX Runtime's session the share when they are
    built (`build_encoder`).
    """
    import torch

    threads = torch_threads(settings)
    for variable in ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY"):
        os.environ.setdefault(variable, ONEDNN_CACHE_CAPACITY)
    try:
        from threadpoolctl import ThreadpoolController

        ThreadpoolController().select(internal_api="openblas").limit(limits=1)
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        logger.warning("threadpoolctl missing: numpy's BLAS threads are not limited")
    torch.set_num_threads(threads)
    logger.info(
        "worker process %s: %d torch threads, %d encoder threads",
        os.getpid(),
        threads,
        encoder_threads(settings),
    )
