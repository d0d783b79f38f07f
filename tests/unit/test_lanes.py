"""The interactive and bulk lanes: the priority field, its queues, and the order a worker
takes them in. The queue itself is tested over a real stack (tests/integration/test_lanes.py)."""

from __future__ import annotations

from dataclasses import replace

import marshmallow as ma
import pytest

from api import create_app
from api.batches import BatchCreateSchema
from api.schemas import JobCreateSchema
from cli.main import build_parser, priority
from devstack.local_redis import free_port
from jobs.broker import celery_config
from jobs.contract import BULK_QUEUE, LANE_QUEUES, QUEUE, WORKER_QUEUES, JobStatus, Priority
from jobs.records import JobRecord, record_body
from worker.command import worker_command

ARTICLE = {"article": {"text": "Text."}, "tasks": ["summary"]}


def test_a_job_may_ask_for_either_lane_and_nothing_else():
    assert JobCreateSchema().load(ARTICLE)["priority"] is None  # the endpoint's default
    assert JobCreateSchema().load({**ARTICLE, "priority": "bulk"})["priority"] == "bulk"
    assert JobCreateSchema().load({**ARTICLE, "priority": "interactive"})["priority"] == (
        "interactive"
    )
    with pytest.raises(ma.ValidationError) as caught:
        JobCreateSchema().load({**ARTICLE, "priority": "urgent"})
    assert "priority" in caught.value.messages


def test_a_batch_is_bulk_unless_it_asks():
    assert BatchCreateSchema().load({"jobs": [ARTICLE]})["priority"] == "bulk"
    batch = BatchCreateSchema().load({"jobs": [ARTICLE], "priority": "interactive"})
    assert batch["priority"] == "interactive"


def test_the_job_record_shows_its_priority():
    record = JobRecord("a" * 32, JobStatus.QUEUED, "t", None, None, 0, None, None)
    assert record_body(record)["priority"] == "interactive"
    bulk = replace(record, priority=Priority.BULK)
    assert record_body(bulk)["priority"] == "bulk"


def test_the_spec_documents_the_priority():
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    spec = app.test_client().get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    create = next(s for name, s in schemas.items() if name.startswith("JobCreate"))
    assert create["properties"]["priority"]["enum"] == [
        "interactive",
        "bulk",
        None,
    ]  # null: default
    job = next(s for name, s in schemas.items() if name in ("Job", "JobSchema"))
    assert job["properties"]["priority"]["enum"] == ["interactive", "bulk"]
    batch = next(s for name, s in schemas.items() if name.startswith("BatchCreate"))
    assert batch["properties"]["priority"]["default"] == "bulk"


def test_each_lane_has_its_queue_and_the_worker_takes_interactive_first():
    assert LANE_QUEUES == {Priority.INTERACTIVE: QUEUE, Priority.BULK: BULK_QUEUE}
    assert WORKER_QUEUES == (QUEUE, BULK_QUEUE)
    # The transport lists a worker's queues to BRPOP sorted by name, and Redis answers from
    # the first that holds a message: the names must sort interactive first.
    options = celery_config("redis://localhost:6379/0")["broker_transport_options"]
    assert options["queue_order_strategy"] == "jobs.broker_transport:LaneCycle"
    assert sorted(WORKER_QUEUES) == list(WORKER_QUEUES)
    command = worker_command("worker", concurrency=1)
    assert command[command.index("--queues") + 1] == "newsnlp,newsnlp-bulk"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["submit", "a.txt"], "interactive"),
        (["submit", "a.txt", "b.txt"], "bulk"),
        (["submit", "a.txt", "b.txt", "--priority", "interactive"], "interactive"),
        (["submit", "a.txt", "--priority", "bulk"], "bulk"),
    ],
)
def test_the_cli_submits_several_files_as_bulk(argv, expected):
    assert priority(build_parser().parse_args(argv)) == expected


def test_a_job_of_a_batch_gives_no_priority_of_its_own():
    app = create_app({"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})
    job = {**ARTICLE, "priority": "interactive"}
    response = app.test_client().post("/v1/batches", json={"jobs": [ARTICLE, job]})
    assert response.status_code == 422
    body = response.get_json()
    assert body["errors"] == {
        "jobs": {"1": {"priority": ["Give the batch's priority, not a job's."]}}
    }
    response = app.test_client().post("/v1/jobs", json={**ARTICLE, "priority": "urgent"})
    assert response.status_code == 422
    assert "priority" in response.get_json()["errors"]


def test_the_lane_cycle_lists_bulk_first_once_after_a_streak_of_interactive_jobs():
    from kombu.utils.scheduling import cycle_by_name

    from jobs.broker_transport import BULK_EVERY

    options = celery_config("redis://localhost:6379/0")["broker_transport_options"]
    cycle = cycle_by_name(options["queue_order_strategy"])()  # as kombu builds it
    cycle.update([BULK_QUEUE, QUEUE])
    for _ in range(BULK_EVERY):
        assert cycle.consume(2) == [QUEUE, BULK_QUEUE]
        cycle.rotate(QUEUE)
    assert cycle.consume(2) == [BULK_QUEUE, QUEUE]
    cycle.rotate(QUEUE)  # the bulk queue was empty: still bulk first until one is taken
    assert cycle.consume(2) == [BULK_QUEUE, QUEUE]
    cycle.rotate(BULK_QUEUE)
    assert cycle.consume(2) == [QUEUE, BULK_QUEUE]
