"""One JSON shape for every error, with a stable string `code` per failure a client can act on.

{"code": "validation_error", "status": 422, "message": "...", "errors": {...},
 "reason": "validation_error"}

`code` is the same field, with the same values, as a failed job's `error.code`; `status` is the
HTTP status. `reason` repeats `code`: the name it had before the two were one contract, kept
so that clients reading it go on working.
"""

from __future__ import annotations

import logging
from typing import Any

import marshmallow as ma
from flask import Flask, current_app, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from jobs.redis_errors import REDIS_ERRORS, is_out_of_memory, is_unavailable
from jobs.store import QueueFull, ReplicationTimeout

logger = logging.getLogger(__name__)

# Stable messages of the HTTP errors raised by Flask/werkzeug/webargs themselves.
_REASONS: dict[int, tuple[str, str]] = {
    400: ("bad_request", "The request is malformed."),
    404: ("not_found", "No such resource."),
    405: ("method_not_allowed", "This method is not allowed on this resource."),
    413: ("payload_too_large", "The request body is larger than the configured limit."),
    415: ("unsupported_media_type", "Send JSON with Content-Type: application/json."),
    422: ("validation_error", "The request is not valid; see errors for each field."),
    500: ("internal_error", "Internal error; the server log has the details."),
    503: ("service_unavailable", "The service is unavailable; retry later."),
}


class ErrorSchema(ma.Schema):
    """The one shape of every error answer (documented in the OpenAPI spec)."""

    code = ma.fields.String(
        metadata={"description": "A stable, machine-readable code (as a failed job's error.code)"}
    )
    status = ma.fields.Integer(metadata={"description": "The HTTP status code"})
    message = ma.fields.String(metadata={"description": "What went wrong, for people"})
    errors = ma.fields.Dict(metadata={"description": "Messages by field, when fields are wrong"})
    reason = ma.fields.String(
        metadata={"description": "Deprecated: the same value as `code`", "deprecated": True}
    )


class ApiError(Exception):
    """An error the API answers on purpose, with a stable reason."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        errors: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.errors = errors or {}
        self.headers = headers or {}


def payload_too_large() -> ApiError:
    """The 413 of a body over the limit, as werkzeug's own is answered."""
    reason, message = _REASONS[413]
    return ApiError(413, reason, message)


def error_body(
    status: int, code: str, message: str, errors: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The error shape; `api.server` writes the same one for what gunicorn refuses."""
    return {
        "code": code,
        "status": status,
        "message": message,
        "errors": errors or {},
        "reason": code,
    }


def error_response(
    code: int,
    reason: str,
    message: str,
    errors: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> ResponseReturnValue:
    response = jsonify(error_body(code, reason, message, errors))
    response.status_code = code
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def handle_api_error(error: ApiError) -> ResponseReturnValue:
    return error_response(error.code, error.reason, error.message, error.errors, error.headers)


def handle_http_exception(error: HTTPException) -> ResponseReturnValue:
    code = error.code or 500
    reason, message = _REASONS.get(code, ("http_error", error.name))
    data = getattr(error, "data", None) or {}
    errors = data.get("errors") or data.get("messages") or {}
    # webargs nests errors under the location name: {"json": {...}} or {"query": {...}}
    if isinstance(errors, dict) and len(errors) == 1 and set(errors) <= {"json", "query"}:
        errors = next(iter(errors.values()))
    return error_response(code, reason, message, errors, data.get("headers"))


def handle_redis_down(error: Exception) -> ResponseReturnValue:
    """Redis unreachable or full (jobs.redis_errors): nothing was recorded; retry later."""
    if not is_unavailable(error):
        return handle_unexpected(error)
    full = is_out_of_memory(error)
    logger.warning("redis %s: %s", "full" if full else "unreachable", type(error).__name__)
    retry_after = str(current_app.config.get("RETRY_AFTER_SECONDS", 5))
    return error_response(
        503,
        "redis_unavailable",
        f"The job queue is {'full' if full else 'unreachable'}; retry later.",
        headers={"Retry-After": retry_after},
    )


def handle_queue_full(error: QueueFull) -> ResponseReturnValue:
    logger.warning("job refused: its lane's queue is full")
    retry_after = str(current_app.config.get("RETRY_AFTER_SECONDS", 5))
    return error_response(
        503,
        "queue_full",
        "The queue of this priority is full; nothing was accepted: retry later.",
        headers={"Retry-After": retry_after},
    )


def handle_replication_timeout(error: ReplicationTimeout) -> ResponseReturnValue:
    logger.warning("job refused: no Redis replica confirmed it in time")
    retry_after = str(current_app.config.get("RETRY_AFTER_SECONDS", 5))
    return error_response(
        503,
        "replication_timeout",
        "No Redis replica confirmed the job in time; nothing was accepted: retry later.",
        headers={"Retry-After": retry_after},
    )


def handle_unexpected(error: Exception) -> ResponseReturnValue:
    logger.exception("unhandled error")
    reason, message = _REASONS[500]
    return error_response(500, reason, message)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, handle_api_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(QueueFull, handle_queue_full)
    app.register_error_handler(ReplicationTimeout, handle_replication_timeout)
    for exc in REDIS_ERRORS:
        app.register_error_handler(exc, handle_redis_down)
    app.register_error_handler(Exception, handle_unexpected)
