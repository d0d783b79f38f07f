"""Which Redis errors mean "Redis cannot take this now; retry later", in one place.

Unreachable (connection refused or reset, a timeout) and full: a Redis at its `maxmemory`
with `noeviction` refuses every write with OOM, as `OutOfMemoryError` for a command, and as
a `ResponseError` naming OOM from inside a Lua script. A script fails at its first write
then, so nothing of it is written. The API answers these 503 `redis_unavailable` with
Retry-After, the worker retries them, and the broker transport (jobs.broker_transport)
treats them as a lost connection.
"""

from __future__ import annotations

import kombu.exceptions
import redis

_OOM_MARK = "OOM command not allowed"


def is_out_of_memory(error: BaseException) -> bool:
    if isinstance(error, redis.exceptions.OutOfMemoryError):
        return True
    return isinstance(error, redis.exceptions.ResponseError) and _OOM_MARK in str(error)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says Redis is unreachable or refusing writes, not that a call is wrong."""
    if isinstance(error, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return True
    if isinstance(error, kombu.exceptions.OperationalError):  # a publish that gave up
        return True
    return is_out_of_memory(error)


# For `except` clauses: the classes `is_unavailable` may be true of (check it on the error).
REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.RedisError,
    kombu.exceptions.OperationalError,
)
