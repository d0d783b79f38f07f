"""The Celery tasks of newsnlp: thin wrappers that read a job, call the services, write back."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import redis
from celery import Task
from celery.exceptions import SoftTimeLimitExceeded

from jobs.contract import ANALYZE_TASK
from jobs.store import JobStore
from jobs.telemetry import Telemetry
from services.analysis import AnalysisRequest, Analyzer
from services.errors import AnalysisError
from services.summarization import SummaryOptions
from worker.app import app, settings
from worker.models import build_analyzer
from worker.serialize import analysis_to_result

logger = logging.getLogger(__name__)

T = TypeVar("T")
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@dataclass(frozen=True)
class Resources:
    analyzer: Analyzer
    store: JobStore
    telemetry: Telemetry


class AnalysisTask(Task):
    """Holds the per-process resources: models and the job store, created once, lazily."""

    @cached_property
    def resources(self) -> Resources:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=3, socket_timeout=10
        )
        store = JobStore(
            client, ttl_seconds=settings.job_ttl_seconds, max_attempts=settings.max_attempts
        )
        return Resources(
            analyzer=build_analyzer(settings), store=store, telemetry=Telemetry(client)
        )


def with_redis_retry(call: Callable[[], T], *, wait_seconds: float = 60.0) -> T:
    """Retry a job-store call while Redis is unreachable (a restart), up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    delay = 0.2
    while True:
        try:
            return call()
        except REDIS_ERRORS:
            if time.monotonic() > deadline:
                raise
            logger.warning("redis unreachable, retrying in %.1f s", delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def request_from_job(data: dict[str, Any]) -> AnalysisRequest:
    article = data["article"]
    summary = (data.get("options") or {}).get("summary") or {}
    return AnalysisRequest(
        text=article.get("text") or "",
        title=article.get("title"),
        claims=tuple(data.get("claims") or ()),
        tasks=frozenset(data["tasks"]),
        summary=SummaryOptions(
            max_sentences=summary.get("max_sentences"), max_words=summary.get("max_words")
        ),
    )


@app.task(bind=True, base=AnalysisTask, name=ANALYZE_TASK, ignore_result=True)
def analyze(self: AnalysisTask, job_id: str) -> None:
    """Run one job. Safe to run twice: a job that has already ended is left as it is."""
    store = self.resources.store
    started = with_redis_retry(lambda: store.start(job_id))
    if started.request is None:
        logger.info("job %s not run: it is %s", job_id, started.status)
        return
    tasks = list(started.request.get("tasks") or ())
    logger.info("job %s started", job_id)
    t0 = time.perf_counter()
    outcome = _run(self.resources.analyzer, started.request, job_id)
    duration = time.perf_counter() - t0
    if isinstance(outcome, dict):
        written = with_redis_retry(lambda: store.succeed(job_id, outcome))
        status = "succeeded"
        timings = {k: v / 1000 for k, v in outcome.get("timings_ms", {}).items()}
    else:
        code, message = outcome
        written = with_redis_retry(lambda: store.fail(job_id, code, message))
        status, timings = "failed", {}
    if written:
        _record(self.resources.telemetry, tasks, status, duration, timings)
    logger.info(
        "job %s %s in %.0f ms%s",
        job_id,
        status,
        duration * 1000,
        "" if written else " (it had already ended: outcome not written)",
    )


def _run(
    analyzer: Analyzer, request: dict[str, Any], job_id: str
) -> dict[str, Any] | tuple[str, str]:
    """The job's result, or (error code, message) for a job that failed."""
    try:
        return analysis_to_result(analyzer.analyze(request_from_job(request)))
    except AnalysisError as exc:
        return exc.code, exc.message
    except SoftTimeLimitExceeded:
        # Also how a cancel stops a running job: the record is already "canceled" then.
        logger.warning("job %s stopped at the time limit or by a cancel", job_id)
        return "timeout", f"the analysis took longer than {settings.soft_time_limit} s"
    except Exception:
        logger.exception("job %s failed unexpectedly", job_id)
        return "internal_error", "the analysis failed unexpectedly; the worker log has the details"


def _record(
    telemetry: Telemetry, tasks: list[str], status: str, duration: float, timings: dict[str, float]
) -> None:
    try:
        telemetry.job_ended(tasks, status, duration, timings)
    except REDIS_ERRORS:
        logger.warning("metrics of a job not recorded: redis unreachable")
