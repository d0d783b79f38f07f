"""The newsnlp Celery app of the worker: `create_app(settings)` builds it, tasks and signals wired.

Each worker process loads the models once, when it starts (NEWSNLP_PRELOAD_MODELS=true, the
default) or at its first job, and keeps them for its life. The main process writes a
heartbeat to Redis every few seconds, with the models the worker runs: the API's /readyz and
/metrics count the live workers from it, `/v1/models` lists their models. It also runs the
sweeper (jobs.sweeper), which queues again a job whose message was lost. Importing this
module reads no setting and creates nothing; `worker.main` is the entrypoint that does.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import partial
from typing import Any

import redis
from celery.signals import (
    setup_logging,
    task_postrun,
    task_prerun,
    worker_process_init,
    worker_ready,
    worker_shutdown,
)

from jobs.broker import celery_config
from jobs.contract import ANALYZE_TASK
from jobs.heap import freeze_startup_heap
from jobs.logs import configure_logging, current_job_id
from jobs.queue import analyze_message
from jobs.redis_target import redis_client
from jobs.sweeper import Sweeper, SweeperThread
from jobs.telemetry import Telemetry
from services.errors import ModelLoadError
from worker.base import WorkerApp, job_store
from worker.preflight import check_model_paths, check_redis
from worker.provenance import describe_models, models_json
from worker.runtime import configure_threads
from worker.settings import WorkerSettings
from worker.tasks import register_tasks

logger = logging.getLogger(__name__)


def create_app(settings: WorkerSettings) -> WorkerApp:
    """The worker's Celery app; fails at once when a configured model folder is missing or
    Redis does not answer."""
    check_model_paths(settings)
    check_redis(settings)
    app = WorkerApp(settings)
    app.conf.update(
        celery_config(
            settings.redis,
            soft_time_limit=settings.soft_time_limit,
            time_limit=settings.time_limit,
            visibility_timeout=settings.visibility_timeout,
            result_ttl_seconds=settings.job_ttl_seconds,
        )
    )
    register_tasks(app, settings)
    _connect_signals(app)
    return app


def _connect_signals(app: WorkerApp) -> None:
    settings = app.settings

    def on_setup_logging(loglevel: str | None = None, **_: Any) -> None:
        configure_logging("worker", loglevel or "INFO")

    def on_process_init(**_: Any) -> None:
        configure_threads(settings)
        if settings.preload_models:
            app.tasks[ANALYZE_TASK].resources  # noqa: B018 - loads the models in this process, once

    def on_task_prerun(args: Any = None, **_: Any) -> None:
        # Every newsnlp task takes the job id as its first argument.
        current_job_id.set(str(args[0]) if args else None)

    def on_task_postrun(**_: Any) -> None:
        current_job_id.set(None)

    def on_worker_ready(sender: Any = None, **_: Any) -> None:
        name = getattr(sender, "hostname", None) or f"worker-{os.getpid()}"
        heartbeat = Heartbeat(settings, name)
        heartbeat.thread.start()
        app.background.append(heartbeat)
        if settings.sweep_interval > 0:
            sweeper = _sweeper_thread(app)
            sweeper.thread.start()
            app.background.append(sweeper)
        # The main process's own startup state (a pool process freezes its own with its
        # models, `AnalysisTask.resources`).
        freeze_startup_heap()

    def on_worker_shutdown(**_: Any) -> None:
        for thread in app.background:
            thread.stop()

    # weak=False: the handlers are closures that would otherwise be collected at once.
    setup_logging.connect(on_setup_logging, weak=False)
    worker_process_init.connect(on_process_init, weak=False)
    task_prerun.connect(on_task_prerun, weak=False)
    task_postrun.connect(on_task_postrun, weak=False)
    worker_ready.connect(on_worker_ready, weak=False)
    worker_shutdown.connect(on_worker_shutdown, weak=False)


def _sweeper_thread(app: WorkerApp) -> SweeperThread:
    """The sweeper (jobs.sweeper) of this worker's main process: a job whose message is lost
    is queued again `sweep_interval` to three times that after its loss."""
    settings = app.settings

    sweeper = Sweeper(
        job_store(settings),
        partial(analyze_message, app),
        min_age=settings.sweep_interval,
        confirm_seconds=settings.sweep_interval,
        running_grace=settings.time_limit + settings.sweep_interval,
    )
    return SweeperThread(sweeper, settings.sweep_interval)


class Heartbeat:
    """Writes this worker's liveness and models to Redis every `interval` seconds from a
    daemon thread."""

    def __init__(self, settings: WorkerSettings, name: str, interval: float = 5.0) -> None:
        client = redis_client(settings.redis, connect_timeout=2, timeout=5)
        self.telemetry = Telemetry(client, heartbeat_ttl=int(interval * 3))
        self.name = name
        self.settings = settings
        self.concurrency = settings.concurrency
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="newsnlp-heartbeat", daemon=True)

    def _models(self, first: bool) -> dict[str, dict[str, str]] | None:
        """The worker's models (hashed here, off the signal handler: ~0.3 s, once), or None
        while a hub model is not in the cache yet (a pool process downloads it as it loads)."""
        try:
            return models_json(describe_models(self.settings))
        except (ModelLoadError, OSError, ValueError) as exc:
            if first:
                logger.warning("heartbeat without its models for now: %s", exc)
            return None

    def _run(self) -> None:
        models = self._models(first=True)
        while not self.stopped.is_set():
            models = models or self._models(first=False)
            info = {"pid": os.getpid(), "concurrency": self.concurrency, "models": models or {}}
            try:
                self.telemetry.heartbeat(self.name, info)
            except redis.exceptions.RedisError as exc:
                logger.warning("heartbeat not written: %s", type(exc).__name__)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.telemetry.worker_stopped(self.name)
        except redis.exceptions.RedisError:
            pass
