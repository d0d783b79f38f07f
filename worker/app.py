"""Entrypoint of the newsnlp worker: `celery -A worker.app worker --queues newsnlp`.

The settings are read from the environment once, here, and passed down. Each worker
process loads the models once, when it starts (NEWSNLP_PRELOAD_MODELS=true, the default)
or at its first job, and keeps them for its life. A worker on another machine joins by
pointing REDIS_URL at the same Redis.
"""

from __future__ import annotations

import logging

from celery.signals import worker_process_init

from worker.celery_app import celery_config, create_celery
from worker.runtime import configure_threads
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

settings = WorkerSettings.from_env()
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


@worker_process_init.connect
def _init_process(**_: object) -> None:
    configure_threads(settings)
    if settings.preload_models:
        from worker.tasks import analyze

        analyze.resources  # noqa: B018 - loads the models in this process, once
