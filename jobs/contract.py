"""Names both sides of the queue agree on."""

from __future__ import annotations

from enum import StrEnum

# What a job may ask for, in the order results list them (services.analysis.TASKS runs them;
# tests/unit/test_layout.py checks the two agree).
ANALYSIS_TASKS = ("summary", "stance")
ANALYZE_TASK = "newsnlp.analyze"
WEBHOOK_TASK = "newsnlp.deliver_webhook"
QUEUE = "newsnlp"
# Webhook deliveries have their own queue and worker (threads, no models): a slow receiver
# must never hold a model worker, nor delay another client's job.
WEBHOOK_QUEUE = "newsnlp-webhooks"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
