"""The jobs resource: submit an article, read (or wait on) a job, cancel it."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import marshmallow as ma
from flask import current_app, g, jsonify, request, url_for
from flask.views import MethodView

from api.blueprint import Blueprint
from api.clients import clients
from api.errors import ApiError
from api.schemas import JobCreatedSchema, JobCreateSchema, JobSchema
from api.security import owns
from jobs.contract import LANE_QUEUES, TERMINAL_STATUSES
from jobs.queue import analyze_message
from jobs.records import JobRecord, record_body, request_hash
from jobs.redis_errors import REDIS_ERRORS, is_unavailable
from jobs.request import JobRequest
from jobs.telemetry import ended_increments, submitted_increments
from jobs.webhooks import DestinationRefused, check_destination

logger = logging.getLogger(__name__)

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Analysis jobs")

MAX_WAIT_SECONDS = 60
JOB_SCHEMA = JobSchema()


class WaitSchema(ma.Schema):
    wait = ma.fields.Float(
        load_default=0.0,
        validate=ma.validate.Range(min=0, max=MAX_WAIT_SECONDS),
        metadata={"description": "Seconds to wait for the job to end before answering."},
    )


def check_limits(data: dict[str, Any], prefix: tuple[str, ...] = ()) -> None:
    config = current_app.config
    errors: dict[str, Any] = {}
    article = data["article"]
    if len(article.get("text") or "") > config["MAX_ARTICLE_CHARS"]:
        errors["article"] = {
            "text": [f"Longer than the maximum of {config['MAX_ARTICLE_CHARS']} characters."]
        }
    if len(article.get("html") or "") > config["MAX_HTML_CHARS"]:
        errors["article"] = {
            "html": [f"Longer than the maximum of {config['MAX_HTML_CHARS']} characters."]
        }
    if len(data["claims"]) > config["MAX_CLAIMS"]:
        errors["claims"] = [f"At most {config['MAX_CLAIMS']} claims per job."]
    if data.get("callback_url"):
        if not config["WEBHOOKS_ENABLED"]:
            errors["callback_url"] = ["Webhooks are not enabled on this server."]
        else:
            try:
                check_destination(data["callback_url"], config["WEBHOOK_ALLOWLIST"])
            except DestinationRefused as exc:
                errors["callback_url"] = [f"Refused: {exc}."]
    if errors:
        for key in reversed(prefix):
            errors = {key: errors}
        raise ApiError(
            422, "validation_error", "The request is not valid; see errors for each field.", errors
        )


def submit(data: dict[str, Any], idempotency_key: str | None = None) -> tuple[str, bool]:
    """Record and enqueue one validated job in its lane (interactive unless it asks for bulk);
    returns its id and whether it is new."""
    svc = clients()
    job_id = uuid.uuid4().hex
    job = JobRequest.from_dict(data)
    # The priority is kept in the request too: the Idempotency-Key's digest tells the two
    # lanes apart.
    priority = job.priority
    recorded = job.to_dict()
    queue = LANE_QUEUES[priority]
    # Recorded, queued and counted in one atomic step: a job exists exactly when its
    # message is in the queue (a Redis failure leaves neither, and the client a 503).
    creation = svc.store.create(
        job_id,
        recorded,
        idempotency_key=idempotency_key,
        enqueue=(queue, analyze_message(svc.celery, job_id, queue)),
        metrics=submitted_increments(list(job.tasks)),
        owner=g.get("owner", ""),
        priority=priority,
    )
    if not creation.created:
        existing = svc.store.get(creation.job_id)
        same_body = existing is not None and creation.request_hash == request_hash(recorded)
        if not same_body:
            raise ApiError(
                409,
                "idempotency_key_reused",
                "This Idempotency-Key was used for a different request.",
            )
        return creation.job_id, False
    tasks = ",".join(job.tasks)
    logger.info(
        "job %s queued (%s, %s)",
        creation.job_id,
        tasks,
        priority,
        extra={"job_id": creation.job_id},
    )
    return creation.job_id, True


def job_body(record: JobRecord) -> dict[str, Any]:
    return {**record_body(record), "links": {"self": url_for("jobs.Job", job_id=record.id)}}


def _idempotency_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return None
    if not 1 <= len(key) <= 200:
        raise ApiError(
            422,
            "validation_error",
            "The request is not valid; see errors for each field.",
            {"Idempotency-Key": ["Between 1 and 200 characters."]},
        )
    return key


@blp.route("")
class Jobs(MethodView):
    # Schema instances, not classes: webargs would build one (and its nested ones) per request.
    @blp.arguments(JobCreateSchema())
    @blp.arguments(WaitSchema(), location="query")
    @blp.response(202, JobCreatedSchema)
    @blp.alt_response(
        200,
        schema=JobSchema,
        description="The job, when it ended within `?wait`, or the one an Idempotency-Key made",
    )
    def post(self, data: dict[str, Any], args: dict[str, Any]) -> Any:
        """Submit an article for summary and stance; the job runs on a worker.

        `?wait=N` (at most 60) holds the answer up to N seconds: a job that ends by then is
        answered 200 with its result, as `GET /v1/jobs/<id>` would; otherwise 202, as without
        the wait (at once when the process holds its maximum of waits, NEWSNLP_MAX_WAITS).
        With an `Idempotency-Key` header already used (24 h), the same request
        answers 200 with the job it created, and a different request 409.
        """
        check_limits(data)
        job_id, created = submit(data, _idempotency_key())
        location = url_for("jobs.Job", job_id=job_id)
        record: JobRecord | None = None
        if not created:
            record = _get(job_id, wait=args["wait"])
        elif args["wait"] > 0:
            try:
                record = _get(job_id, wait=args["wait"])
            except REDIS_ERRORS as exc:
                if not is_unavailable(exc):
                    raise
                # The job is recorded and queued: its id matters more than the wait.
                logger.warning("job %s: the wait ended with Redis unreachable", job_id)
        if record is None or (created and record.status not in TERMINAL_STATUSES):
            status = record.status.value if record else "queued"
            body = {"id": job_id, "status": status, "links": {"self": location}}
            return body, 202, {"Location": location}
        # The 202 schema above would drop the result: this answer is dumped as a job.
        response = jsonify(JOB_SCHEMA.dump(job_body(record)))
        response.headers["Location"] = location
        return response


@blp.route("/<string:job_id>")
class Job(MethodView):
    @blp.arguments(WaitSchema(), location="query")
    @blp.response(200, JobSchema)
    def get(self, args: dict[str, Any], job_id: str) -> dict[str, Any]:
        """Read a job: its status, and its result or error once it has ended.

        `?wait=N` holds the answer up to N seconds (at most 60) until the job ends. When
        the API process already holds its maximum of waits (NEWSNLP_MAX_WAITS), the job is
        answered at once as it is: ask again.
        """
        # Answered as soon as the job ends: the store is told on the job's channel.
        return job_body(_get(job_id, wait=args["wait"]))

    @blp.response(200, JobSchema)
    def delete(self, job_id: str) -> dict[str, Any]:
        """Cancel a job: a queued job never runs, a running one is stopped."""
        _get(job_id)
        svc = clients()
        tasks = (svc.store.get_request(job_id) or {}).get("tasks", [])
        # Counted by the script that cancels the job, only if it does.
        outcome = svc.store.cancel(job_id, ended_increments(tasks, "canceled"))
        if outcome == "missing":
            raise ApiError(404, "job_not_found", "No job with this id.")
        if not outcome.startswith("was_"):
            raise ApiError(409, "job_already_ended", f"The job has already ended: {outcome}.")
        if outcome == "was_running":
            # SIGUSR1 raises the soft time limit in the task: the pool process survives.
            svc.celery.control.revoke(job_id, terminate=True, signal="SIGUSR1")
        else:
            svc.celery.control.revoke(job_id)
        record = _get(job_id)
        logger.info("job %s canceled (%s)", job_id, outcome, extra={"job_id": job_id})
        return job_body(record)


def _get(job_id: str, wait: float = 0.0) -> JobRecord:
    """The job's record (once it has ended, waiting up to `wait` s); 404 if there is none,
    or if it is another API key's job (checked before any wait).

    A wait needs one of the process's wait slots (NEWSNLP_MAX_WAITS): without a free one
    the record is read at once, as it is now.
    """
    if not _valid_id(job_id):
        raise ApiError(404, "job_not_found", "No job with this id.")
    svc = clients()
    tenants = bool(current_app.config["API_KEYS"])
    record = svc.store.get(job_id) if tenants or wait <= 0 else None
    if tenants and record is not None and not owns(record.owner):
        record = None
    # Without keys the wait reads the record itself; with keys only an owned job is waited on.
    may_end_later = record is None if not tenants else record is not None
    if wait > 0 and may_end_later and (record is None or record.status not in TERMINAL_STATUSES):
        with svc.waits.slot() as may_wait:
            if not may_wait:
                logger.info("job %s: no wait slot free, answered at once", job_id)
            record = svc.store.wait(job_id, wait if may_wait else 0.0)
    if record is None:
        raise ApiError(404, "job_not_found", "No job with this id.")
    return record


def _valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
