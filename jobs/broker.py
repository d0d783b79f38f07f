"""The Celery configuration both sides use: the API to publish by task name, the worker to consume.

It names the worker's pool by its import path: importing this module loads no task, no model.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from jobs.contract import ANALYZE_TASK, QUEUE, WEBHOOK_QUEUE, WEBHOOK_TASK
from jobs.redis_target import RedisTarget, celery_transport_options, celery_url


def celery_config(
    redis: RedisTarget | str,
    *,
    soft_time_limit: int = 120,
    time_limit: int = 150,
    visibility_timeout: int = 600,
    result_ttl_seconds: int = 86_400,
) -> dict[str, Any]:
    """The Celery configuration mapping; every reliability setting is spelled out here.

    `redis`: a REDIS_URL, or where Redis is (jobs.redis_target): through Sentinel, the broker
    and the result backend find the current primary by `master_name`."""
    target = RedisTarget(url=redis) if isinstance(redis, str) else redis
    transport = {
        "visibility_timeout": visibility_timeout,
        # Sweep for messages whose holder died (unacked past the visibility timeout)
        # every few seconds, rather than every 100 s (kombu's 10 s x 10 default).
        "unacked_restore_interval": max(1, min(10, visibility_timeout // 6)),
        "unacked_restore_throttle": 1,
        "socket_connect_timeout": 3,
        "socket_timeout": 10,
        "socket_keepalive": True,
        "health_check_interval": 10,
        # The lanes: each BRPOP lists a worker's queues interactive first, and Redis answers
        # from the first one that holds a message; after 10 interactive jobs in a row bulk
        # comes first once (jobs.broker_transport.LaneCycle: bulk slowed, never stopped).
        # kombu's default (round_robin) rotates the queues after each message.
        "queue_order_strategy": "jobs.broker_transport:LaneCycle",
        **celery_transport_options(target),
    }
    return {
        "broker_url": celery_url(target),
        # kombu's Redis transport, with Redis out of memory a connection error (see there).
        "broker_transport": "jobs.broker_transport:"
        + ("SentinelTransport" if target.sentinels else "Transport"),
        "result_backend": celery_url(target),
        "broker_transport_options": transport,
        "result_backend_transport_options": transport,
        "redis_socket_connect_timeout": 3,
        "redis_socket_timeout": 10,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_default_queue": QUEUE,
        "task_routes": {ANALYZE_TASK: {"queue": QUEUE}, WEBHOOK_TASK: {"queue": WEBHOOK_QUEUE}},
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        # Two reserved jobs a pool process: with one pool process, the second waits in its
        # pipe while it runs the first (PipelinedPool).
        "worker_pool": "worker.pool:PipelinedPool",
        "worker_prefetch_multiplier": 2,
        "task_soft_time_limit": soft_time_limit,
        "task_time_limit": time_limit,
        "result_expires": result_ttl_seconds,
        "task_track_started": False,
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": 2,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 1.0,
        },
        # Loading the models in each child process takes seconds, above the 4 s default.
        "worker_proc_alive_timeout": 120,
        "worker_send_task_events": False,
        "worker_hijack_root_logger": False,
        "enable_utc": True,
    }


def create_celery(name: str, config: dict[str, Any], include: list[str] | None = None) -> Celery:
    app = Celery(name, include=include or [])
    app.conf.update(config)
    return app
