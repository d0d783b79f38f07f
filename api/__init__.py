"""The newsnlp HTTP API: `create_app()` is the factory gunicorn serves.

The API records jobs in Redis and enqueues them by task name; it never imports the models.
"""

from __future__ import annotations

import io
import logging
from typing import Any

from flask import Flask, current_app, request
from flask_smorest import Api
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from api import batches, fleet, health, job_views, web
from api.clients import ApiClients
from api.errors import ApiError, ErrorSchema, payload_too_large, register_error_handlers
from api.security import authenticate, rate_limit
from api.settings import DEFAULTS, redis_target, settings_from_env
from api.waits import WaitSlots
from jobs.broker import celery_config, create_celery
from jobs.env import ConfigError
from jobs.heap import freeze_startup_heap
from jobs.logs import configure_logging
from jobs.redis_target import redis_client
from jobs.store import JobStore
from jobs.telemetry import Telemetry

logger = logging.getLogger(__name__)

_BODY_METHODS = {"POST", "PUT", "PATCH"}


class NewsApi(Api):
    """flask-smorest's Api, documenting our error shape."""

    ERROR_SCHEMA = ErrorSchema


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app from the environment, or from `test_config` alone when given."""
    if test_config is None:
        configure_logging("api")
    app = Flask(__name__)
    app.config.from_mapping(DEFAULTS)
    app.config.from_mapping(_settings() if test_config is None else settings_from_env({}))
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    target = redis_target(app.config)
    # One client for the job store, the rate limiter and telemetry (through Sentinel when
    # configured: it follows a failover).
    client = redis_client(target, connect_timeout=2, timeout=5)
    app.extensions["newsnlp"] = ApiClients(
        store=JobStore(
            client,
            ttl_seconds=app.config["JOB_TTL_SECONDS"],
            pending_ttl_seconds=app.config["PENDING_TTL_SECONDS"],
            max_queued_jobs=app.config["MAX_QUEUED_JOBS"],
            max_queued_bytes=app.config["MAX_QUEUED_BYTES"],
            min_replicas=target.min_replicas,
            replica_timeout_ms=target.replica_timeout_ms,
        ),
        telemetry=Telemetry(client),
        celery=create_celery(
            "newsnlp-api",
            celery_config(target, result_ttl_seconds=app.config["JOB_TTL_SECONDS"]),
        ),
        waits=WaitSlots(app.config["MAX_WAITS"]),
    )

    if app.config.get("TRUSTED_PROXIES"):
        # Behind N proxies (ingress, load balancer): the client address from X-Forwarded-For.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.before_request(authenticate)
    app.before_request(rate_limit)
    app.before_request(_limit_streamed_body)
    app.before_request(_require_json_body)
    api = NewsApi(app)
    api.register_blueprint(health.blp)
    api.register_blueprint(job_views.blp)
    api.register_blueprint(batches.blp)
    api.register_blueprint(fleet.blp)
    app.register_blueprint(web.blp)
    register_error_handlers(app)
    if test_config is None:
        # The app of a serving process (gunicorn's worker), built once for its life.
        freeze_startup_heap()
    return app


# gunicorn's exit status of a worker that failed to boot: its master stops, with the reason,
# instead of starting the worker again and again.
_WORKER_BOOT_ERROR = 3


def _settings() -> dict[str, Any]:
    """The settings from the environment; a malformed one stops the process with one line
    that names the variable (not a traceback)."""
    try:
        return settings_from_env()
    except ConfigError as exc:
        logger.error("newsnlp api not started: %s", exc)
        raise SystemExit(_WORKER_BOOT_ERROR) from None


def _limit_streamed_body() -> None:
    """A body sent without Content-Length (chunked) is read here, at most the body limit and
    one byte more: over the limit it is a 413 like any other, not a body cut at the limit
    (werkzeug's own limit of a streamed body truncates it silently: a 400 "not JSON")."""
    environ = request.environ
    if request.method not in _BODY_METHODS or environ.get("CONTENT_LENGTH"):
        return
    limit: int = current_app.config["MAX_CONTENT_LENGTH"]
    stream = environ["wsgi.input"]
    chunks: list[bytes] = []
    size = 0
    while size <= limit and (chunk := stream.read(min(65_536, limit + 1 - size))):
        chunks.append(chunk)
        size += len(chunk)
    if size > limit:
        raise payload_too_large()
    environ["wsgi.input"] = io.BytesIO(b"".join(chunks))
    environ["CONTENT_LENGTH"] = str(size)
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    request.__dict__.pop("content_length", None)  # werkzeug caches it: read again


def _require_json_body() -> None:
    if request.method not in _BODY_METHODS:
        return
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send JSON with Content-Type: application/json."
        )
    try:
        request.get_json()
    except RecursionError:
        raise ApiError(400, "invalid_json", "The JSON is nested too deeply.") from None
    except BadRequest:
        raise ApiError(400, "invalid_json", "The request body is not valid JSON.") from None
