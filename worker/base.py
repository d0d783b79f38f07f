"""What every newsnlp worker shares: its Celery app class, the task base, Redis retries.

Imports no model code: the webhook worker (`worker.webhook_main`) is built from this alone.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import cached_property
from typing import Any, TypeVar

from celery import Celery, Task

from jobs.redis_errors import REDIS_ERRORS, is_unavailable
from jobs.redis_target import redis_client
from jobs.store import JobStore
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

T = TypeVar("T")


class WorkerApp(Celery):
    """The Celery app of a worker, holding the settings its tasks read."""

    def __init__(self, settings: WorkerSettings) -> None:
        super().__init__("newsnlp")
        self.settings = settings
        # The main process's daemon threads (heartbeat, sweeper), stopped at shutdown.
        self.background: list[Any] = []


def job_store(settings: WorkerSettings) -> JobStore:
    target = settings.redis
    return JobStore(
        redis_client(target, connect_timeout=3, timeout=10),
        ttl_seconds=settings.job_ttl_seconds,
        max_attempts=settings.max_attempts,
        min_replicas=target.min_replicas,
        replica_timeout_ms=target.replica_timeout_ms,
    )


class NewsnlpTask(Task):
    """A task of the worker's app: its settings, and its job store created once, lazily."""

    @property
    def settings(self) -> WorkerSettings:
        return self.app.settings  # type: ignore[attr-defined,no-any-return]

    @cached_property
    def store(self) -> JobStore:
        return job_store(self.settings)


def with_redis_retry(call: Callable[[], T], *, wait_seconds: float = 60.0) -> T:
    """Retry a job-store call while Redis cannot take it (a restart, or out of memory), up
    to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return call()
        except REDIS_ERRORS as exc:
            if not is_unavailable(exc) or time.monotonic() > deadline:
                raise
            logger.warning("redis unavailable (%s), retrying in %.1f s", type(exc).__name__, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
