"""The jobs resource: submit an article, read a job."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest import Blueprint

from api.errors import ApiError
from api.schemas import JobCreatedSchema, JobCreateSchema, JobSchema
from api.services import services
from jobs.contract import ANALYZE_TASK, QUEUE

logger = logging.getLogger(__name__)

blp = Blueprint("jobs", __name__, url_prefix="/v1/jobs", description="Analysis jobs")


def _check_limits(data: dict[str, Any]) -> None:
    config = current_app.config
    errors: dict[str, Any] = {}
    if len(data["article"]["text"]) > config["MAX_ARTICLE_CHARS"]:
        errors["article"] = {
            "text": [f"Longer than the maximum of {config['MAX_ARTICLE_CHARS']} characters."]
        }
    if len(data["claims"]) > config["MAX_CLAIMS"]:
        errors["claims"] = [f"At most {config['MAX_CLAIMS']} claims per job."]
    if errors:
        raise ApiError(
            422, "validation_error", "The request is not valid; see errors for each field.", errors
        )


@blp.route("")
class Jobs(MethodView):
    @blp.arguments(JobCreateSchema)
    @blp.response(202, JobCreatedSchema)
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Submit an article for summary and stance; the job runs on a worker."""
        _check_limits(data)
        job_id = uuid.uuid4().hex
        store = services().store
        store.create(job_id, data)
        try:
            services().celery.send_task(ANALYZE_TASK, args=[job_id], task_id=job_id, queue=QUEUE)
        except Exception:
            # Not queued means not accepted: remove the record so that no job is left waiting.
            store.delete(job_id)
            raise
        logger.info("job %s queued (%s)", job_id, ",".join(data["tasks"]))
        location = url_for("jobs.Job", job_id=job_id)
        body = {"id": job_id, "status": "queued", "links": {"self": location}}
        return body, 202, {"Location": location}


@blp.route("/<string:job_id>")
class Job(MethodView):
    @blp.response(200, JobSchema)
    def get(self, job_id: str) -> dict[str, Any]:
        """Read a job: its status, and its result or error once it has ended."""
        record = services().store.get(job_id) if _valid_id(job_id) else None
        if record is None:
            raise ApiError(404, "job_not_found", "No job with this id.")
        return {
            "id": record.id,
            "status": record.status.value,
            "created_at": record.created_at,
            "started_at": record.started_at,
            "finished_at": record.finished_at,
            "attempts": record.attempts,
            "result": record.result,
            "error": record.error,
            "links": {"self": url_for("jobs.Job", job_id=job_id)},
        }


def _valid_id(job_id: str) -> bool:
    return len(job_id) == 32 and all(c in "0123456789abcdef" for c in job_id)
