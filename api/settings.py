"""API settings, read once from the environment by the app factory."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from api.security import parse_api_keys
from jobs.env import ConfigError, env_bool, env_int, env_str
from jobs.redis_target import RedisTarget, redis_target_from_env
from jobs.store import DEFAULT_MAX_QUEUED_BYTES, DEFAULT_MAX_QUEUED_JOBS
from jobs.webhooks import parse_allowlist


def settings_from_env(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The Flask config keys of newsnlp, from NEWSNLP_* variables and REDIS_URL."""
    env = os.environ if env is None else env
    max_chars = env_int(env, "NEWSNLP_MAX_ARTICLE_CHARS", 200_000, minimum=1)
    api_keys = _api_keys(env_str(env, "NEWSNLP_API_KEYS", None))
    protect_ops = env_bool(env, "NEWSNLP_PROTECT_OPS", False)
    if protect_ops and not api_keys:
        raise ConfigError("NEWSNLP_PROTECT_OPS needs NEWSNLP_API_KEYS: there is no key to ask for")
    redis = redis_target_from_env(env)
    return {
        "REDIS_URL": redis.url,
        "REDIS_SENTINELS": redis.sentinels,
        "REDIS_MASTER": redis.master,
        "REDIS_MIN_REPLICAS": redis.min_replicas,
        "REDIS_REPLICA_TIMEOUT_MS": redis.replica_timeout_ms,
        "MAX_ARTICLE_CHARS": max_chars,
        "MAX_HTML_CHARS": env_int(env, "NEWSNLP_MAX_HTML_CHARS", 5 * max_chars, minimum=1),
        "MAX_CLAIMS": env_int(env, "NEWSNLP_MAX_CLAIMS", 20, minimum=1, maximum=200),
        # The body limit leaves room for JSON escaping of a maximal article and its claims.
        "MAX_CONTENT_LENGTH": env_int(
            env, "NEWSNLP_MAX_REQUEST_BYTES", 8 * max_chars + 64_000, minimum=1024
        ),
        "JOB_TTL_SECONDS": env_int(env, "NEWSNLP_JOB_TTL_SECONDS", 86_400, minimum=60),
        "PENDING_TTL_SECONDS": env_int(env, "NEWSNLP_PENDING_TTL_SECONDS", 7 * 86_400, minimum=60),
        "RETRY_AFTER_SECONDS": env_int(env, "NEWSNLP_RETRY_AFTER_SECONDS", 5, minimum=1),
        "API_KEYS": api_keys,
        "PROTECT_OPS": protect_ops,
        "AUTH_FAILURES_PER_MINUTE": env_int(env, "NEWSNLP_AUTH_FAILURES_PER_MINUTE", 10, minimum=0),
        "MAX_QUEUED_JOBS": env_int(
            env, "NEWSNLP_MAX_QUEUED_JOBS", DEFAULT_MAX_QUEUED_JOBS, minimum=1
        ),
        "MAX_QUEUED_BYTES": env_int(
            env, "NEWSNLP_MAX_QUEUED_BYTES", DEFAULT_MAX_QUEUED_BYTES, minimum=1
        ),
        "WEBHOOKS_ENABLED": bool(env_str(env, "NEWSNLP_WEBHOOK_SECRET", None)),
        "WEBHOOK_ALLOWLIST": parse_allowlist(env_str(env, "NEWSNLP_WEBHOOK_ALLOWLIST", None)),
        "TRUSTED_PROXIES": env_int(env, "NEWSNLP_TRUSTED_PROXIES", 0, minimum=0, maximum=5),
        # Long-polls (`?wait=`) one process holds at once; beyond, answered at once. Below
        # gunicorn's 4 threads a process, so that waits never take them all (api/waits.py).
        "MAX_WAITS": env_int(env, "NEWSNLP_MAX_WAITS", 500, minimum=0),
        "RATE_LIMIT_PER_MINUTE": env_int(env, "NEWSNLP_RATE_LIMIT_PER_MINUTE", 0, minimum=0),
    }


def redis_target(config: Mapping[str, Any]) -> RedisTarget:
    """Where the app's Redis is, from its config keys (settings_from_env's REDIS_*)."""
    return RedisTarget(
        url=config["REDIS_URL"],
        sentinels=tuple(config["REDIS_SENTINELS"]),
        master=config["REDIS_MASTER"],
        min_replicas=config["REDIS_MIN_REPLICAS"],
        replica_timeout_ms=config["REDIS_REPLICA_TIMEOUT_MS"],
    )


def _api_keys(raw: str | None) -> dict[str, str]:
    try:
        return parse_api_keys(raw)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


DEFAULTS: dict[str, Any] = {
    "API_TITLE": "newsnlp",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/",
    "OPENAPI_JSON_PATH": "openapi.json",
    "OPENAPI_SWAGGER_UI_PATH": "docs",
    "OPENAPI_SWAGGER_UI_URL": "/docs/assets/",  # served by api/web.py: works offline
    "API_SPEC_OPTIONS": {
        "info": {
            "description": "Summaries of news articles and their stance towards claims. "
            "Every error has the shape {code, status, reason, message, errors}."
        }
    },
    "JSON_SORT_KEYS": False,
}
