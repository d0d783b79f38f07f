"""The newsnlp HTTP API: `create_app()` is the factory gunicorn serves.

The API records jobs in Redis and enqueues them by task name; it never imports the models.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Flask, request
from flask_smorest import Api
from werkzeug.exceptions import BadRequest
from werkzeug.middleware.proxy_fix import ProxyFix

from api import batches, health, job_views, web
from api.clients import ApiClients
from api.errors import ApiError, ErrorSchema, register_error_handlers
from api.security import authenticate, rate_limit
from api.settings import DEFAULTS, settings_from_env
from api.waits import WaitSlots
from jobs.broker import celery_config, create_celery
from jobs.heap import freeze_startup_heap
from jobs.logs import configure_logging
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
    app.config.from_mapping(settings_from_env() if test_config is None else settings_from_env({}))
    if test_config is not None:
        app.config.from_mapping(test_config)
    app.json.sort_keys = False  # type: ignore[attr-defined]

    client = redis.Redis.from_url(
        app.config["REDIS_URL"], socket_connect_timeout=2, socket_timeout=5
    )
    app.extensions["newsnlp"] = ApiClients(
        store=JobStore(
            client,
            ttl_seconds=app.config["JOB_TTL_SECONDS"],
            pending_ttl_seconds=app.config["PENDING_TTL_SECONDS"],
        ),
        telemetry=Telemetry(client),
        celery=create_celery(
            "newsnlp-api",
            celery_config(
                app.config["REDIS_URL"], result_ttl_seconds=app.config["JOB_TTL_SECONDS"]
            ),
        ),
        waits=WaitSlots(app.config["MAX_WAITS"]),
    )

    if app.config.get("TRUSTED_PROXIES"):
        # Behind N proxies (ingress, load balancer): the client address from X-Forwarded-For.
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    app.before_request(authenticate)
    app.before_request(rate_limit)
    app.before_request(_require_json_body)
    api = NewsApi(app)
    api.register_blueprint(health.blp)
    api.register_blueprint(job_views.blp)
    api.register_blueprint(batches.blp)
    app.register_blueprint(web.blp)
    register_error_handlers(app)
    if test_config is None:
        # The app of a serving process (gunicorn's worker), built once for its life.
        freeze_startup_heap()
    return app


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
