"""Which Redis errors mean "Redis cannot take this now; retry later", in one place.

The API answers them 503 `redis_unavailable` with Retry-After; the worker retries them.
"""

from __future__ import annotations

import redis

RETRYABLE_REDIS_ERRORS: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


def is_unavailable(error: BaseException) -> bool:
    """Whether `error` says Redis is unreachable or refusing writes, not that a call is wrong."""
    return isinstance(error, RETRYABLE_REDIS_ERRORS)
