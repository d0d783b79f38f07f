"""Checks made in the worker's main process before any model loads (no torch imported here)."""

from __future__ import annotations

from pathlib import Path

import redis

from jobs.redis_target import redis_client
from worker.settings import WorkerSettings


class ModelFolderMissing(RuntimeError):
    """A configured model folder does not exist: the worker must not start."""


class RedisUnreachable(RuntimeError):
    """The worker's Redis does not answer at its start: the worker must not start."""


def check_redis(settings: WorkerSettings, timeout: float = 3.0) -> None:
    """Fail at startup when Redis does not answer within `timeout` s, with the cause, instead
    of Celery's own retries at start (100 of them, minutes) and a worker that looks alive."""
    client = redis_client(settings.redis, connect_timeout=timeout, timeout=timeout)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        # The URL may hold a password: only its host part is named.
        where = f"REDIS_URL ({settings.redis_url.rpartition('@')[2]})"
        if settings.redis_sentinels:
            where = f"master {settings.redis_master!r} of NEWSNLP_REDIS_SENTINELS"
        raise RedisUnreachable(f"Redis at {where} does not answer: {type(exc).__name__}") from None
    finally:
        client.close()


def check_model_paths(settings: WorkerSettings) -> None:
    """Fail at startup, in the main process, when a configured model folder is missing.

    Loading happens later in each pool process; a missing folder found only there would
    make the pool restart its processes forever instead of stopping with the cause.
    """
    needed: list[tuple[str, str | None]] = []
    if settings.stance_backend == "trained":
        needed.append(("NEWSNLP_STANCE_MODEL", settings.stance_model))
    if settings.summarizer == "seq2seq":
        needed.append(("NEWSNLP_SUMMARIZER_MODEL", settings.summarizer_model))
    if settings.stance_backend == "nli":
        needed.append(("NEWSNLP_NLI_MODEL", settings.nli_model))
    for variable, value in needed:
        if not value:
            raise ModelFolderMissing(f"{variable} is not set")
        looks_like_path = value.startswith((".", "/", "~")) or Path(value).exists()
        if looks_like_path and not Path(value).expanduser().is_dir():
            raise ModelFolderMissing(f"{variable}: no model folder at {value}")
