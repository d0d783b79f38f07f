"""Where Redis is, and the one place a Redis client is made from it: by REDIS_URL, or through
Redis Sentinel.

With `NEWSNLP_REDIS_SENTINELS` set, every client (the API's job store and rate limiter, the
worker's job store and heartbeat, Celery's broker and result backend) asks the sentinels for
the current primary of `NEWSNLP_REDIS_MASTER` and asks again after a failover. REDIS_URL
still gives the password, user and database. Replication is asynchronous: a write the
primary answered can vanish with it, so in Sentinel mode the job store waits (WAIT) for
`NEWSNLP_REDIS_MIN_REPLICAS` replicas to have a job's writes before they count (jobs.store).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import redis
import redis.sentinel

from jobs.env import ConfigError, env_int, env_redis_url, env_str

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
DEFAULT_MASTER = "newsnlp"


@dataclass(frozen=True)
class RedisTarget:
    """The Redis of the service: a URL, or the sentinels that know the primary of `master`.

    `min_replicas`: replicas that must hold a job's writes before the API accepts it or a
    worker acknowledges its message (0: no wait, the default without sentinels).
    """

    url: str = DEFAULT_REDIS_URL
    sentinels: tuple[tuple[str, int], ...] = ()
    master: str = DEFAULT_MASTER
    min_replicas: int = 0
    replica_timeout_ms: int = 1000


def redis_target_from_env(env: Mapping[str, str]) -> RedisTarget:
    """REDIS_URL, NEWSNLP_REDIS_SENTINELS (host:port,...), NEWSNLP_REDIS_MASTER,
    NEWSNLP_REDIS_MIN_REPLICAS (1 with sentinels, else 0) and NEWSNLP_REDIS_REPLICA_TIMEOUT_MS."""
    sentinels = parse_sentinels(env_str(env, "NEWSNLP_REDIS_SENTINELS", None))
    return RedisTarget(
        url=env_redis_url(env, "REDIS_URL", DEFAULT_REDIS_URL),
        sentinels=sentinels,
        master=env_str(env, "NEWSNLP_REDIS_MASTER", DEFAULT_MASTER) or DEFAULT_MASTER,
        min_replicas=env_int(
            env, "NEWSNLP_REDIS_MIN_REPLICAS", 1 if sentinels else 0, minimum=0, maximum=10
        ),
        # Below the clients' socket timeouts (5 s in the API): WAIT blocks its connection.
        replica_timeout_ms=env_int(
            env, "NEWSNLP_REDIS_REPLICA_TIMEOUT_MS", 1000, minimum=1, maximum=4000
        ),
    )


def parse_sentinels(raw: str | None) -> tuple[tuple[str, int], ...]:
    if raw is None:
        return ()
    found: list[tuple[str, int]] = []
    for item in raw.split(","):
        host, _, port = item.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(f"NEWSNLP_REDIS_SENTINELS: {item.strip()!r} is not host:port")
        found.append((host, int(port)))
    return tuple(found)


def _master_credentials(url: str) -> dict[str, Any]:
    """The user, password and database REDIS_URL gives, for the primary Sentinel names."""
    parts = urlsplit(url)
    database = parts.path.strip("/")
    return {
        "username": unquote(parts.username) if parts.username else None,
        "password": unquote(parts.password) if parts.password else None,
        "db": int(database) if database.isdigit() else 0,
    }


def redis_client(target: RedisTarget, *, connect_timeout: float, timeout: float) -> redis.Redis:
    """A client of the current primary: from REDIS_URL, or through the sentinels (the
    client asks them again for the primary whenever its connection to it fails)."""
    if not target.sentinels:
        return redis.Redis.from_url(
            target.url, socket_connect_timeout=connect_timeout, socket_timeout=timeout
        )
    sentinel = redis.sentinel.Sentinel(
        list(target.sentinels),
        # The sentinels themselves: without the primary's password.
        sentinel_kwargs={"socket_connect_timeout": connect_timeout, "socket_timeout": timeout},
    )
    return sentinel.master_for(
        target.master,
        socket_connect_timeout=connect_timeout,
        socket_timeout=timeout,
        **_master_credentials(target.url),
    )


def celery_url(target: RedisTarget) -> str:
    """Celery's broker and result backend URL: REDIS_URL, or kombu's list of sentinels
    (`sentinel://host:port/db;sentinel://...`, with REDIS_URL's user and password)."""
    if not target.sentinels:
        return target.url
    credentials = _master_credentials(target.url)
    auth = ""
    if credentials["password"] is not None:
        auth = f"{quote(credentials['username'] or '', safe='')}:"
        auth += f"{quote(credentials['password'], safe='')}@"
    return ";".join(
        f"sentinel://{auth}{host}:{port}/{credentials['db']}" for host, port in target.sentinels
    )


def celery_transport_options(target: RedisTarget) -> dict[str, Any]:
    """What the broker's and result backend's transport options add for `target`."""
    if not target.sentinels:
        return {}
    return {
        "master_name": target.master,
        # The sentinels: asked with the same timeouts as the primary, without its password.
        "sentinel_kwargs": {"socket_connect_timeout": 3, "socket_timeout": 10},
    }
