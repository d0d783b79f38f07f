"""Names both sides of the queue agree on."""

from __future__ import annotations

from enum import StrEnum

ANALYZE_TASK = "newsnlp.analyze"
WEBHOOK_TASK = "newsnlp.deliver_webhook"
QUEUE = "newsnlp"


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
