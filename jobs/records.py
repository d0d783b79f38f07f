"""The job store's record and value types: a job's record, its JSON body, what a write answers.

Plain data, no Redis here: the API, the worker and the store (jobs.store) share these, and
`request_payload` / `request_hash` say once how a request is kept and told apart.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from jobs.contract import JobStatus, Priority


def request_payload(request: dict[str, Any]) -> str:
    """A job's request as the record keeps it (keys sorted: one request, one text)."""
    return json.dumps(request, ensure_ascii=False, sort_keys=True)


def request_hash(request: dict[str, Any], payload: str | None = None) -> str:
    """A digest of a job's request, to tell a repeated request from a different one."""
    text = request_payload(request) if payload is None else payload
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class JobRecord:
    id: str
    status: JobStatus
    created_at: str
    started_at: str | None
    finished_at: str | None
    attempts: int
    result: dict[str, Any] | None
    error: dict[str, Any] | None
    webhook: dict[str, Any] | None = None
    owner: str = ""  # the hash of the API key that created the job ("": created without keys)
    priority: Priority = Priority.INTERACTIVE


# The fields of a job's Redis hash that make its record (`record_from_values`).
RECORD_FIELDS = (
    "status",
    "created_at",
    "started_at",
    "finished_at",
    "attempts",
    "result",
    "error",
    "webhook",
    "owner",
    "priority",
)


def text(value: bytes | str | None) -> str | None:
    """A value as Redis answers it (bytes), as text."""
    if value is None:
        return None
    return value.decode("utf-8") if isinstance(value, bytes) else value


def record_from_values(job_id: str, values: Sequence[bytes | str | None]) -> JobRecord | None:
    """The record of a job from its hash's `RECORD_FIELDS` values, in that order (as HMGET
    answers them); None without a status."""
    raw = {name: text(value) for name, value in zip(RECORD_FIELDS, values, strict=True)}
    if raw["status"] is None:
        return None
    return JobRecord(
        id=job_id,
        status=JobStatus(raw["status"]),
        created_at=raw["created_at"] or "",
        started_at=raw["started_at"],
        finished_at=raw["finished_at"],
        attempts=int(raw["attempts"] or 0),
        result=json.loads(raw["result"]) if raw["result"] else None,
        error=json.loads(raw["error"]) if raw["error"] else None,
        webhook=json.loads(raw["webhook"]) if raw["webhook"] else None,
        owner=raw["owner"] or "",
        priority=Priority(raw["priority"] or Priority.INTERACTIVE),
    )


def record_body(record: JobRecord) -> dict[str, Any]:
    """A job record as the JSON the API (and a webhook) shows."""
    return {
        "id": record.id,
        "status": record.status.value,
        "created_at": record.created_at,
        "started_at": record.started_at,
        "finished_at": record.finished_at,
        "priority": record.priority.value,
        "attempts": record.attempts,
        "result": record.result,
        "error": record.error,
        **({"webhook": record.webhook} if record.webhook else {}),
    }


@dataclass(frozen=True)
class NewJob:
    """One job of a batch to record: its id, request and queue message."""

    job_id: str
    request: dict[str, Any]
    message: str


@dataclass(frozen=True)
class Creation:
    """The outcome of creating a job: a new job, or the job an idempotency key already made."""

    job_id: str
    created: bool
    request_hash: str


@dataclass(frozen=True)
class StartedJob:
    """The outcome of trying to start a job: `request` is set only when it may run now."""

    status: str
    request: dict[str, Any] | None
