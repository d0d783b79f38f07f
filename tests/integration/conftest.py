"""Integration fixtures: a real redis-server and a real Celery worker process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis

from api import create_app
from api.clients import close_clients
from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess
from jobs.contract import TERMINAL_STATUSES

WEBHOOK_SECRET = "test-webhook-secret"
# The webhook worker's deadline per attempt, and its retries, in the tests.
WEBHOOK_TIMEOUT = 4.0
WEBHOOK_ENV = {
    "NEWSNLP_WEBHOOK_SECRET": WEBHOOK_SECRET,
    "NEWSNLP_WEBHOOK_ALLOWLIST": "127.0.0.1",
    "NEWSNLP_WEBHOOK_TIMEOUT": str(WEBHOOK_TIMEOUT),
    "NEWSNLP_WEBHOOK_MAX_RETRIES": "1",
}


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    server = LocalRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def worker(redis_server, tmp_path_factory):
    process = WorkerProcess(
        redis_server.url, tmp_path_factory.mktemp("worker") / "worker.log", **WEBHOOK_ENV
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
def webhook_worker(redis_server, tmp_path_factory):
    """The webhook worker (threads, no models) on its own queue, as `make run` starts it."""
    process = WorkerProcess(
        redis_server.url,
        tmp_path_factory.mktemp("webhooks") / "webhooks.log",
        name="hooks",
        concurrency=4,
        role="webhook-worker",
        **WEBHOOK_ENV,
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def api(redis_server, tmp_path_factory):
    """The API under gunicorn, over real HTTP, against the session's Redis."""
    log = tmp_path_factory.mktemp("api") / "api.log"
    process = ApiProcess(
        redis_server.url, free_port(), log, workers=1, NEWSNLP_MAX_ARTICLE_CHARS="200000"
    ).start()
    yield process
    process.stop()


@pytest.fixture()
def app(redis_server):
    app = create_app(
        {
            "REDIS_URL": redis_server.url,
            "TESTING": True,
            "WEBHOOKS_ENABLED": True,
            "WEBHOOK_ALLOWLIST": ("127.0.0.1",),
        }
    )
    yield app
    close_clients(app)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture()
def redis_client(redis_server):
    client = redis.Redis.from_url(redis_server.url)
    yield client
    client.close()


def wait_for_job(client, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(f"/v1/jobs/{job_id}").get_json()
        if body["status"] in TERMINAL_STATUSES:
            return body
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} still {body['status']} after {timeout} s")


@contextmanager
def isolated_stack(
    tmp: Path, name: str, concurrency: int = 1, **env: str
) -> Iterator[tuple[Any, WorkerProcess]]:
    """A Redis, a worker with `env` and an API test client of their own, all stopped after."""
    server = LocalRedis(tmp / "redis")
    server.start()
    worker = WorkerProcess(
        server.url, tmp / "worker.log", name=name, concurrency=concurrency, **env
    )
    app = create_app({"REDIS_URL": server.url})
    try:
        worker.start()
        yield app.test_client(), worker
    finally:
        close_clients(app)
        worker.stop()
        server.stop()
