"""Entrypoint of the newsnlp worker: `celery -A worker.app worker --queues newsnlp`.

The settings are read from the environment once, here, and passed down. Each worker
process loads the models once, when it starts (NEWSNLP_PRELOAD_MODELS=true, the default)
or at its first job, and keeps them for its life. A worker on another machine joins by
pointing REDIS_URL at the same Redis. The main process writes a heartbeat to Redis every
few seconds: the API's /readyz and /metrics count the live workers from it.
"""

from __future__ import annotations

import logging
import os
import threading
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

from jobs.heap import freeze_startup_heap
from jobs.logs import configure_logging, current_job_id
from jobs.telemetry import Telemetry
from worker.celery_app import celery_config, create_celery
from worker.preflight import check_model_paths
from worker.runtime import configure_threads
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

settings = WorkerSettings.from_env()
check_model_paths(settings)
app = create_celery(
    "newsnlp",
    celery_config(
        settings.redis_url,
        soft_time_limit=settings.soft_time_limit,
        time_limit=settings.time_limit,
        visibility_timeout=settings.visibility_timeout,
        result_ttl_seconds=settings.job_ttl_seconds,
    ),
    include=["worker.tasks"],
)


@setup_logging.connect
def _setup_logging(loglevel: str | None = None, **_: Any) -> None:
    configure_logging("worker", loglevel or "INFO")


@worker_process_init.connect
def _init_process(**_: object) -> None:
    configure_threads(settings)
    if settings.preload_models:
        from worker.tasks import analyze

        analyze.resources  # noqa: B018 - loads the models in this process, once


@task_prerun.connect
def _job_context(args: Any = None, **_: Any) -> None:
    # Every newsnlp task takes the job id as its first argument.
    current_job_id.set(str(args[0]) if args else None)


@task_postrun.connect
def _end_job_context(**_: Any) -> None:
    current_job_id.set(None)


class Heartbeat:
    """Writes this worker's liveness to Redis every `interval` seconds from a daemon thread."""

    def __init__(self, name: str, interval: float = 5.0) -> None:
        client = redis.Redis.from_url(
            settings.redis_url, socket_connect_timeout=2, socket_timeout=5
        )
        self.telemetry = Telemetry(client, heartbeat_ttl=int(interval * 3))
        self.name = name
        self.interval = interval
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="newsnlp-heartbeat", daemon=True)

    def _run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.telemetry.heartbeat(
                    self.name, {"pid": os.getpid(), "concurrency": settings.concurrency}
                )
            except redis.exceptions.RedisError as exc:
                logger.warning("heartbeat not written: %s", type(exc).__name__)
            self.stopped.wait(self.interval)

    def stop(self) -> None:
        self.stopped.set()
        try:
            self.telemetry.worker_stopped(self.name)
        except redis.exceptions.RedisError:
            pass


_heartbeat: list[Heartbeat] = []


@worker_ready.connect
def _start_heartbeat(sender: Any = None, **_: Any) -> None:
    heartbeat = Heartbeat(getattr(sender, "hostname", None) or f"worker-{os.getpid()}")
    heartbeat.thread.start()
    _heartbeat.append(heartbeat)


@worker_ready.connect
def _freeze_main_heap(**_: Any) -> None:
    # The main process's own startup state (a pool process freezes its own with its models,
    # `AnalysisTask.resources`).
    freeze_startup_heap()


@worker_shutdown.connect
def _stop_heartbeat(**_: Any) -> None:
    for heartbeat in _heartbeat:
        heartbeat.stop()
