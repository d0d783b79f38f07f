"""Names both sides of the queue agree on."""

from __future__ import annotations

from enum import StrEnum

# What a job may ask for, in the order results list them (services.analysis.TASKS runs them;
# tests/unit/test_layout.py checks the two agree).
ANALYSIS_TASKS = ("summary", "stance")
ANALYZE_TASK = "newsnlp.analyze"
WEBHOOK_TASK = "newsnlp.deliver_webhook"
QUEUE = "newsnlp"
# Each job has a priority, and each priority its own queue (lane): a worker takes from
# INTERACTIVE first, and from BULK only when INTERACTIVE is empty (worker/command.py).
BULK_QUEUE = "newsnlp-bulk"
# Webhook deliveries have their own queue and worker (threads, no models): a slow receiver
# must never hold a model worker, nor delay another client's job.
WEBHOOK_QUEUE = "newsnlp-webhooks"


class Priority(StrEnum):
    INTERACTIVE = "interactive"
    BULK = "bulk"


LANE_QUEUES = {Priority.INTERACTIVE: QUEUE, Priority.BULK: BULK_QUEUE}
# The model worker's queues, in the order it takes from them.
WORKER_QUEUES = (QUEUE, BULK_QUEUE)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
