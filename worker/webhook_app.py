"""The webhook worker's Celery app: `deliver_webhook` alone, on Celery's threads pool.

It imports no model code and loads none (the model worker is `worker.app`): a delivery
waits on the network, so a few MB of threads serve many receivers at once, and a slow
receiver holds a thread of this worker for the attempt's deadline at most.
"""

from __future__ import annotations

from typing import Any

from celery.signals import setup_logging

from jobs.broker import celery_config
from jobs.contract import WEBHOOK_QUEUE
from jobs.logs import configure_logging
from worker.base import WorkerApp
from worker.delivery import register_webhook_task
from worker.settings import WorkerSettings


def create_webhook_app(settings: WorkerSettings) -> WorkerApp:
    app = WorkerApp(settings)
    config = celery_config(
        settings.redis,
        visibility_timeout=settings.visibility_timeout,
        result_ttl_seconds=settings.job_ttl_seconds,
    )
    config.update(
        worker_pool="threads",
        task_default_queue=WEBHOOK_QUEUE,
        # A thread takes one delivery at a time; the others stay in the queue for the
        # other webhook workers.
        worker_prefetch_multiplier=1,
    )
    app.conf.update(config)
    register_webhook_task(app, settings)

    def on_setup_logging(loglevel: str | None = None, **_: Any) -> None:
        configure_logging("webhooks", loglevel or "INFO")

    setup_logging.connect(on_setup_logging, weak=False)
    return app
