"""Per-process runtime setup: thread counts, so that processes x threads <= cores."""

from __future__ import annotations

import logging
import os

from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)


def thread_count(settings: WorkerSettings) -> int:
    if settings.torch_threads > 0:
        return settings.torch_threads
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, (cores or 1) // settings.concurrency)


def configure_threads(settings: WorkerSettings) -> None:
    import torch

    threads = thread_count(settings)
    torch.set_num_threads(threads)
    logger.info("worker process %s uses %s torch threads", os.getpid(), threads)
