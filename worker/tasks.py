"""The Celery tasks of newsnlp: thin wrappers that read a job, call the services, write back.

`register_tasks` adds them to the worker's app (`worker.app.create_app`); each task reads
the settings from its app, so this module imports no app and reads no environment.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

import redis
import requests
from celery import Celery, Task
from celery.exceptions import SoftTimeLimitExceeded

from jobs.contract import ANALYZE_TASK, QUEUE, WEBHOOK_TASK
from jobs.heap import freeze_startup_heap
from jobs.store import JobStore, record_body
from jobs.telemetry import ended_increments
from jobs.webhooks import SIGNATURE_HEADER, DestinationRefused, check_destination, sign
from services.analysis import AnalysisRequest, Analyzer
from services.errors import AnalysisError
from services.summarize.extractive import SummaryOptions
from worker.serialize import analysis_to_result
from worker.settings import WorkerSettings
from worker.wiring import build_analyzer

logger = logging.getLogger(__name__)

T = TypeVar("T")
REDIS_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


@dataclass(frozen=True)
class Resources:
    analyzer: Analyzer
    store: JobStore


def job_store(settings: WorkerSettings) -> JobStore:
    client = redis.Redis.from_url(settings.redis_url, socket_connect_timeout=3, socket_timeout=10)
    return JobStore(
        client, ttl_seconds=settings.job_ttl_seconds, max_attempts=settings.max_attempts
    )


class NewsnlpTask(Task):
    """A task of the worker's app: its settings, and its job store created once, lazily."""

    @property
    def settings(self) -> WorkerSettings:
        return self.app.settings  # type: ignore[attr-defined,no-any-return]

    @cached_property
    def store(self) -> JobStore:
        return job_store(self.settings)


class AnalysisTask(NewsnlpTask):
    """Holds the per-process models and job store, created once, lazily."""

    @cached_property
    def resources(self) -> Resources:
        resources = Resources(analyzer=build_analyzer(self.settings), store=self.store)
        # Kept for the process's life: out of the garbage collector's scans from now on,
        # whether the models load at the process's start or at its first job.
        freeze_startup_heap()
        return resources


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
        text=article.get("text"),
        html=article.get("html"),
        title=article.get("title"),
        claims=tuple(data.get("claims") or ()),
        tasks=frozenset(data["tasks"]),
        summary=SummaryOptions(
            max_sentences=summary.get("max_sentences"), max_words=summary.get("max_words")
        ),
    )


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
    outcome = _run(self.resources.analyzer, started.request, job_id, self.settings)
    duration = time.perf_counter() - t0
    # The job's metrics are added by the script that writes its end, only if it writes it.
    if isinstance(outcome, dict):
        status = "succeeded"
        timings = {k: v / 1000 for k, v in outcome.get("timings_ms", {}).items()}
        metrics = ended_increments(tasks, status, duration, timings)
        written = with_redis_retry(lambda: store.succeed(job_id, outcome, metrics))
    else:
        code, message = outcome
        status = "failed"
        metrics = ended_increments(tasks, status, duration)
        written = with_redis_retry(lambda: store.fail(job_id, code, message, metrics))
    if written and started.request.get("callback_url"):
        self.app.send_task(WEBHOOK_TASK, args=[job_id], queue=QUEUE)
    logger.info(
        "job %s %s in %.0f ms%s",
        job_id,
        status,
        duration * 1000,
        "" if written else " (it had already ended: outcome not written)",
    )


def _run(
    analyzer: Analyzer, request: dict[str, Any], job_id: str, settings: WorkerSettings
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


def deliver_webhook(self: NewsnlpTask, job_id: str) -> None:
    """POST an ended job to its callback URL, signed with HMAC-SHA256 over the body.

    A non-2xx answer or a network error is retried with exponential backoff; the outcome
    (delivered, or failed after the last retry, and why) is kept on the job record.
    """
    settings = self.settings
    store = self.store
    record = with_redis_retry(lambda: store.get(job_id))
    request = with_redis_retry(lambda: store.get_request(job_id)) or {}
    url = request.get("callback_url")
    if record is None or not url:
        return
    attempt = self.request.retries + 1
    if not settings.webhook_secret:
        _webhook_outcome(store, job_id, "failed", attempt, "NEWSNLP_WEBHOOK_SECRET is unset")
        return
    try:
        check_destination(url, settings.webhook_allowlist)
    except DestinationRefused as exc:
        _webhook_outcome(store, job_id, "failed", attempt, f"refused: {exc}")
        return
    body = json.dumps(record_body(record), ensure_ascii=False).encode("utf-8")
    try:
        response = requests.post(
            url,
            data=body,
            headers={
                "Content-Type": "application/json",
                SIGNATURE_HEADER: sign(settings.webhook_secret, body),
                "X-Newsnlp-Job": job_id,
            },
            timeout=(3.0, settings.webhook_timeout),
            allow_redirects=False,
        )
        problem = None if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    except requests.RequestException as exc:
        problem = type(exc).__name__
    if problem is None:
        _webhook_outcome(store, job_id, "delivered", attempt, None)
        return
    if self.request.retries >= settings.webhook_max_retries:
        _webhook_outcome(store, job_id, "failed", attempt, problem)
        return
    logger.warning("webhook of job %s not delivered (%s): retrying", job_id, problem)
    countdown = min(300, 2 ** (self.request.retries + 1)) * (0.75 + 0.5 * random.random())
    raise self.retry(countdown=countdown)


def _webhook_outcome(
    store: JobStore, job_id: str, status: str, attempts: int, error: str | None
) -> None:
    outcome = {"status": status, "attempts": attempts, "error": error}
    with_redis_retry(lambda: store.set_webhook_outcome(job_id, outcome))
    log = logger.info if status == "delivered" else logger.warning
    log("webhook of job %s %s after %s attempt(s)%s", job_id, status, attempts,
        f": {error}" if error else "")  # fmt: skip


def register_tasks(app: Celery, settings: WorkerSettings) -> None:
    """Add the newsnlp tasks to `app`, by their names in the contract (jobs.contract)."""
    app.task(bind=True, base=AnalysisTask, name=ANALYZE_TASK, ignore_result=True)(analyze)
    app.task(
        bind=True,
        base=NewsnlpTask,
        name=WEBHOOK_TASK,
        ignore_result=True,
        max_retries=settings.webhook_max_retries,
        soft_time_limit=60,
        time_limit=90,
    )(deliver_webhook)
