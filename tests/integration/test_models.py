"""Model provenance over a real stack: a real job's `result.models`, `/v1/models` listing the
live workers' models (a mixed fleet too), the API-key rule, the spec."""

from __future__ import annotations

import hashlib
import os
import re
import time

import pytest
import requests

from api import create_app
from api.clients import close_clients
from api.security import parse_api_keys
from jobs.contract import TERMINAL_STATUSES
from jobs.telemetry import Telemetry
from tests.conftest import REFERENCE_TITLE
from tests.integration.conftest import WEBHOOK_ENV
from worker.provenance import describe_models, models_json
from worker.settings import WorkerSettings

pytestmark = pytest.mark.integration

STAGES = {"encoder", "summarizer", "stance"}


def expected_models(redis_url: str) -> dict[str, dict[str, str]]:
    """What the session's worker runs: its settings are this environment's (service_env)."""
    env = {**os.environ, **WEBHOOK_ENV, "REDIS_URL": redis_url}
    return models_json(describe_models(WorkerSettings.from_env(env)))


def wait_over_http(url: str, job_id: str, timeout: float = 60.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f"{url}/v1/jobs/{job_id}", timeout=10).json()
        if job["status"] in TERMINAL_STATUSES:
            return job
        time.sleep(0.1)
    raise TimeoutError(f"job {job_id} still {job['status']} after {timeout} s")


def test_a_real_job_says_which_models_made_it(api, worker, redis_server, reference_text):
    job = {"article": {"title": REFERENCE_TITLE, "text": reference_text}}
    created = requests.post(f"{api.url}/v1/jobs", json=job, timeout=10)
    assert created.status_code == 202
    done = wait_over_http(api.url, created.json()["id"])
    assert done["status"] == "succeeded", done
    models = done["result"]["models"]
    assert set(models) == STAGES | {"stance_verifier"}  # the shipped model has a verifier
    for model in models.values():
        assert set(model) == {"name", "version", "runtime"}
        assert re.fullmatch(r"[0-9a-f]{12}", model["version"])
    assert models == expected_models(redis_server.url)
    assert models["stance"]["runtime"] == "lightgbm"
    assert models["encoder"]["runtime"] in ("torch bf16", "torch fp32")


def models_with_worker(get, worker) -> tuple[dict, list[dict]]:
    """`/v1/models` once it lists `worker` (its heartbeat starts just after it is ready)."""
    deadline = time.monotonic() + 30
    while True:
        body = get("/v1/models")
        mine = [w for w in body["workers"] if w["name"].startswith(f"{worker.name}-")]
        if mine or time.monotonic() > deadline:
            return body, mine
        time.sleep(0.5)


def test_v1_models_lists_each_live_worker_with_its_models(api, worker, redis_server):
    expected = expected_models(redis_server.url)
    body, mine = models_with_worker(
        lambda path: requests.get(f"{api.url}{path}", timeout=10).json(), worker
    )
    assert len(mine) == 1, body
    assert mine[0]["models"] == expected
    assert mine[0]["concurrency"] >= 1
    assert time.time() - mine[0]["heartbeat_at"] < 30
    assert body["mixed"] is False


def test_a_rolling_upgrade_shows_as_a_mixed_fleet(client, worker, redis_server, redis_client):
    current = expected_models(redis_server.url)
    # A worker of the previous release, with another stance model, beating on the same Redis.
    older = {**current, "stance": {"name": "stance", "version": "0" * 12, "runtime": "lightgbm"}}
    telemetry = Telemetry(redis_client)
    telemetry.heartbeat("older-1@host", {"pid": 1, "concurrency": 1, "models": older})
    try:
        body, mine = models_with_worker(lambda path: client.get(path).get_json(), worker)
    finally:
        telemetry.worker_stopped("older-1@host")
    by_name = {w["name"]: w["models"] for w in body["workers"]}
    assert by_name["older-1@host"] == older
    assert [w["models"] for w in mine] == [current]
    assert body["mixed"] is True


def test_with_keys_on_v1_models_needs_a_key(redis_server):
    digest = hashlib.sha256(b"s3cret-key").hexdigest()
    app = create_app({"REDIS_URL": redis_server.url, "API_KEYS": parse_api_keys(f"n={digest}")})
    try:
        client = app.test_client()
        assert client.get("/v1/models").status_code == 401
        assert client.get("/v1/models", headers={"X-API-Key": "nope"}).status_code == 403
        assert client.get("/v1/models", headers={"X-API-Key": "s3cret-key"}).status_code == 200
    finally:
        close_clients(app)


def test_the_spec_types_result_models_and_v1_models(client):
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    result_models = schemas["Result"]["properties"]["models"]
    models = schemas[result_models["$ref"].rsplit("/", 1)[-1]]
    assert set(models["properties"]) == STAGES | {"stance_verifier"}
    model = schemas[models["properties"]["encoder"]["$ref"].rsplit("/", 1)[-1]]
    assert set(model["properties"]) == {"name", "version", "runtime"}
    answer = spec["paths"]["/v1/models"]["get"]["responses"]["200"]
    assert answer["content"]["application/json"]["schema"]["$ref"].endswith("/Fleet")
