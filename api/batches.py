"""Batches: up to 100 jobs submitted at once, and their progress in one read."""

from __future__ import annotations

import json
import logging
import uuid
from collections import Counter
from typing import Any

import marshmallow as ma
from flask import g, url_for
from flask.views import MethodView

from api.blueprint import Blueprint
from api.clients import clients
from api.errors import ApiError
from api.job_views import check_limits
from api.schemas import JobCreateSchema, LinksSchema, StrictSchema, check_length
from api.security import charge, owns
from jobs.contract import LANE_QUEUES, TERMINAL_STATUSES, JobStatus, Priority
from jobs.queue import analyze_message
from jobs.records import NewJob
from jobs.request import JobRequest
from jobs.telemetry import METRICS_KEY, Increments

logger = logging.getLogger(__name__)

blp = Blueprint("batches", __name__, url_prefix="/v1/batches", description="Batches of jobs")

MAX_BATCH = 100
BATCH_PREFIX = "newsnlp:batch:"


class BatchCreateSchema(StrictSchema):
    priority = ma.fields.String(
        load_default=Priority.BULK.value,
        validate=ma.validate.OneOf([p.value for p in Priority]),
        metadata={"description": "The lane of every job of the batch (a job's own is refused)"},
    )
    jobs = ma.fields.List(
        ma.fields.Nested(JobCreateSchema),
        required=True,
        validate=ma.validate.Length(min=1, max=MAX_BATCH),
        metadata={"description": f"1 to {MAX_BATCH} jobs, each as for POST /v1/jobs"},
    )

    @ma.pre_load
    def _short_list(self, data: Any, **_: Any) -> Any:
        check_length(data, "jobs", MAX_BATCH, f"At most {MAX_BATCH} jobs per batch.")
        return data


class BatchJobSchema(ma.Schema):
    id = ma.fields.String()
    status = ma.fields.String()
    links = ma.fields.Nested(LinksSchema)


class BatchSchema(ma.Schema):
    id = ma.fields.String()
    created_at = ma.fields.String()
    total = ma.fields.Integer()
    done = ma.fields.Boolean(metadata={"description": "Every job has ended"})
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    jobs = ma.fields.List(ma.fields.Nested(BatchJobSchema))
    links = ma.fields.Nested(LinksSchema)


@blp.route("")
class Batches(MethodView):
    @blp.arguments(BatchCreateSchema())
    @blp.response(202, BatchSchema)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Submit up to 100 jobs: all are validated, then all queued at once, or none.

        The jobs are bulk unless the batch asks for `priority: interactive`. A batch of N jobs
        counts N requests towards the rate limit, and N jobs towards its lane's caps (503
        `queue_full` when they do not all fit).
        """
        priority = Priority(data["priority"])
        for i, job in enumerate(data["jobs"]):
            if job["priority"] is not None:
                raise ApiError(
                    422,
                    "validation_error",
                    "The request is not valid; see errors for each field.",
                    {"jobs": {str(i): {"priority": ["Give the batch's priority, not a job's."]}}},
                )
            job["priority"] = priority.value
            check_limits(job, prefix=("jobs", str(i)))
        charge(len(data["jobs"]) - 1)  # the request itself is counted already
        svc = clients()
        queue = LANE_QUEUES[priority]
        jobs = []
        for job in data["jobs"]:
            job_id = uuid.uuid4().hex
            message = analyze_message(svc.celery, job_id, queue)
            jobs.append(NewJob(job_id, JobRequest.from_dict(job).to_dict(), message))
        tasks = Counter(f"submitted|{task}" for job in data["jobs"] for task in job["tasks"])
        batch_id = uuid.uuid4().hex
        svc.store.create_batch(
            BATCH_PREFIX + batch_id,
            jobs,
            queue,
            owner=g.get("owner", ""),
            metrics=Increments(METRICS_KEY, dict(tasks), {}),
            priority=priority,
        )
        for job in jobs:
            tasks_of_job = ",".join(job.request["tasks"])
            logger.info(
                "job %s queued (%s) in batch %s", job.job_id, tasks_of_job, batch_id,
                extra={"job_id": job.job_id},
            )  # fmt: skip
        location = url_for("batches.Batch", batch_id=batch_id)
        return _progress(batch_id), 202, {"Location": location}


@blp.route("/<string:batch_id>")
class Batch(MethodView):
    @blp.response(200, BatchSchema)
    def get(self, batch_id: str) -> dict[str, Any]:
        """Progress of a batch: the status of each of its jobs."""
        return _progress(batch_id)


def _progress(batch_id: str) -> dict[str, Any]:
    store = clients().store
    raw = store.client.hgetall(BATCH_PREFIX + batch_id) if len(batch_id) == 32 else {}
    if not raw or not owns((raw.get(b"owner") or b"").decode()):
        raise ApiError(404, "batch_not_found", "No batch with this id.")
    job_ids: list[str] = json.loads(raw[b"jobs"])
    pipe = store.client.pipeline(transaction=False)
    for job_id in job_ids:
        pipe.hget(store.key(job_id), "status")
    statuses = [(s.decode() if s else "expired") for s in pipe.execute()]
    counts = {status.value: 0 for status in JobStatus}
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    ended = {*TERMINAL_STATUSES, "expired"}  # expired: its record is gone
    done = all(status in ended for status in statuses)
    # A batch lives as long as its jobs: the short TTL once every one has ended.
    store.client.expire(
        BATCH_PREFIX + batch_id, store.ttl_seconds if done else store.pending_ttl_seconds
    )
    return {
        "id": batch_id,
        "created_at": raw[b"created_at"].decode(),
        "total": len(job_ids),
        "done": done,
        "counts": counts,
        "jobs": [
            {"id": job_id, "status": status, "links": {"self": url_for("jobs.Job", job_id=job_id)}}
            for job_id, status in zip(job_ids, statuses, strict=True)
        ],
        "links": {"self": url_for("batches.Batch", batch_id=batch_id)},
    }
