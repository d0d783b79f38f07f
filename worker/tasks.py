"""The Celery tasks of newsnlp: thin wrappers that read a job, call the services, write back.

`register_tasks` adds them to the worker's app (`worker.app.create_app`); each task reads
the settings from its app, so this module imports no app and reads no environment.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property, partial
from typing import Any, TypeVar

from celery import Celery
from celery.exceptions import Reject, SoftTimeLimitExceeded

from jobs.contract import ANALYZE_TASK, WEBHOOK_QUEUE, WEBHOOK_TASK
from jobs.heap import freeze_startup_heap
from jobs.request import JobRequest
from jobs.store import JobStore, ReplicationTimeout
from jobs.telemetry import ended_increments
from services.analysis import AnalysisRequest, Analyzer
from services.errors import AnalysisError
from services.provenance import ModelInfo
from services.summarize.extractive import SummaryOptions
from worker.base import NewsnlpTask, with_redis_retry
from worker.delivery import register_webhook_task
from worker.provenance import describe_models
from worker.serialize import analysis_to_result
from worker.settings import WorkerSettings
from worker.wiring import build_analyzer

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Resources:
    analyzer: Analyzer
    store: JobStore
    models: tuple[ModelInfo, ...]  # what every result says made it


class AnalysisTask(NewsnlpTask):
    """Holds the per-process models and job store, created once, lazily."""

    @cached_property
    def resources(self) -> Resources:
        analyzer = build_analyzer(self.settings)
        # Fingerprinted once, as the models load (not per job).
        resources = Resources(analyzer, self.store, describe_models(self.settings))
        # Kept for the process's life: out of the garbage collector's scans from now on,
        # whether the models load at the process's start or at its first job.
        freeze_startup_heap()
        return resources


def analysis_request(job: JobRequest) -> AnalysisRequest:
    return AnalysisRequest(
        text=job.text,
        html=job.html,
        title=job.title,
        claims=job.claims,
        tasks=frozenset(job.tasks),
        summary=SummaryOptions(max_sentences=job.max_sentences, max_words=job.max_words),
    )


def analyze(self: AnalysisTask, job_id: str) -> None:
    """Run one job. Safe to run twice: a job that has already ended is left as it is."""
    store = self.resources.store
    started = _confirmed(job_id, lambda: store.start(job_id))
    if started.request is None:
        logger.info("job %s not run: it is %s", job_id, started.status)
        return
    job = JobRequest.from_dict(started.request)
    tasks = list(job.tasks)
    logger.info("job %s started", job_id)
    t0 = time.perf_counter()
    outcome = _run(self.resources, job, job_id, self.settings)
    duration = time.perf_counter() - t0
    # The job's metrics are added by the script that writes its end, only if it writes it.
    if isinstance(outcome, dict):
        status = "succeeded"
        timings = {k: v / 1000 for k, v in outcome.get("timings_ms", {}).items()}
        metrics = ended_increments(tasks, status, duration, timings)
        end: Callable[[], bool] = partial(store.succeed, job_id, outcome, metrics)
    else:
        code, message = outcome
        status = "failed"
        metrics = ended_increments(tasks, status, duration)
        end = partial(store.fail, job_id, code, message, metrics)
    try:
        written = with_redis_retry(end)
    except ReplicationTimeout:
        # Written on the primary, not confirmed: the next delivery of the message finds the
        # job ended and sends no webhook, so it goes now. Should a failover lose the end,
        # the job runs again and its webhook goes again (webhooks are at least once).
        _send_webhook(self, job_id, job)
        logger.warning("job %s: no replica confirmed its end in time: message requeued", job_id)
        raise Reject(requeue=True) from None
    if written:
        _send_webhook(self, job_id, job)
    logger.info(
        "job %s %s in %.0f ms%s",
        job_id,
        status,
        duration * 1000,
        "" if written else " (it had already ended: outcome not written)",
    )


def _send_webhook(task: AnalysisTask, job_id: str, job: JobRequest) -> None:
    if job.callback_url:
        task.app.send_task(WEBHOOK_TASK, args=[job_id], queue=WEBHOOK_QUEUE)


def _confirmed(job_id: str, call: Callable[[], T]) -> T:
    """`call` the job store (the job's start); when no replica confirms in time what it
    read (jobs.store, Sentinel mode), the message is not acknowledged but requeued: the
    next delivery finds the job ended, or, after a failover that lost the end, runs it."""
    try:
        return with_redis_retry(call)
    except ReplicationTimeout:
        logger.warning("job %s: no replica confirmed it in time: message requeued", job_id)
        raise Reject(requeue=True) from None


def _run(
    resources: Resources, job: JobRequest, job_id: str, settings: WorkerSettings
) -> dict[str, Any] | tuple[str, str]:
    """The job's result, or (error code, message) for a job that failed."""
    try:
        analysis = resources.analyzer.analyze(analysis_request(job))
        return analysis_to_result(analysis, resources.models)
    except AnalysisError as exc:
        return exc.code, exc.message
    except SoftTimeLimitExceeded:
        # Also how a cancel stops a running job: the record is already "canceled" then.
        logger.warning("job %s stopped at the time limit or by a cancel", job_id)
        return "timeout", f"the analysis took longer than {settings.soft_time_limit} s"
    except Exception:
        logger.exception("job %s failed unexpectedly", job_id)
        return "internal_error", "the analysis failed unexpectedly; the worker log has the details"


def register_tasks(app: Celery, settings: WorkerSettings) -> None:
    """Add the newsnlp tasks to `app`, by their names in the contract (jobs.contract)."""
    app.task(bind=True, base=AnalysisTask, name=ANALYZE_TASK, ignore_result=True)(analyze)
    # Delivered by the webhook worker (its own queue); also here, for a message sent to the
    # model queue by an older version.
    register_webhook_task(app, settings)
