"""A job whose queue message is lost is queued again (jobs.sweeper), on a real Redis and worker.

The loss the sweeper is for: kombu's BRPOP took the message and its reply died with a
failed primary, so the message is in no queue list and in no unacked hash. Here the message
is taken out of the list by hand (RPOP), as that BRPOP did.
"""

from __future__ import annotations

import json
import time

import pytest
import redis

from devstack.local_redis import LocalRedis
from jobs.broker import celery_config, create_celery
from jobs.contract import QUEUE, JobStatus
from jobs.queue import UNACKED_HASH, analyze_message, message_task_id
from jobs.request import JobRequest
from jobs.store import JobStore
from jobs.sweeper import Sweeper

from .conftest import isolated_stack, wait_for_job

pytestmark = pytest.mark.integration

REQUEST = JobRequest(tasks=("summary",), text="The council approved the budget on Monday.")
CONFIRM = 1.0


@pytest.fixture(scope="module")
def lone_redis(tmp_path_factory):
    """A Redis no worker consumes from: what is in its queues stays there."""
    server = LocalRedis(tmp_path_factory.mktemp("sweeper-redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def setup(lone_redis):
    client = redis.Redis.from_url(lone_redis.url)
    client.flushall()
    celery = create_celery("sweeper-test", celery_config(lone_redis.url))
    store = JobStore(client, ttl_seconds=60)

    def message_for(job_id: str, queue: str) -> str:
        return analyze_message(celery, job_id, queue)

    sweeper = Sweeper(store, message_for, min_age=0, confirm_seconds=CONFIRM, running_grace=2)
    yield client, store, sweeper, message_for
    celery.close()
    client.close()


def _queue_job(store: JobStore, message_for, job_id: str, queue: str = QUEUE) -> None:
    store.create(job_id, REQUEST.to_dict(), enqueue=(queue, message_for(job_id, QUEUE)))


def _queued_ids(client: redis.Redis) -> list[str | None]:
    return [message_task_id(raw) for raw in client.lrange(QUEUE, 0, -1)]


def test_a_job_whose_message_was_taken_and_lost_is_queued_again_once_confirmed(setup):
    client, store, sweeper, message_for = setup
    _queue_job(store, message_for, "a" * 32)
    _queue_job(store, message_for, "b" * 32)
    client.rpop(QUEUE)  # a's message (the oldest), taken by a BRPOP whose reply was lost

    first = sweeper.sweep()
    assert (first.candidates, first.missing, first.republished) == (2, 1, [])
    assert _queued_ids(client) == ["b" * 32]  # not at the first sight: it may be in passage

    time.sleep(CONFIRM + 0.1)
    second = sweeper.sweep()
    assert second.republished == ["a" * 32]
    assert _queued_ids(client) == ["a" * 32, "b" * 32]
    assert client.hget(store.key("a" * 32), "republished") == b"1"
    assert store.get("a" * 32).status is JobStatus.QUEUED

    # Its message is there again: nothing more to do, however often the sweeper looks.
    time.sleep(CONFIRM + 0.1)
    third = sweeper.sweep()
    assert (third.missing, third.republished) == (0, [])
    assert len(_queued_ids(client)) == 2


def test_a_message_a_worker_holds_is_never_republished(setup):
    client, store, sweeper, message_for = setup
    _queue_job(store, message_for, "c" * 32)
    raw = client.rpop(QUEUE)
    # What kombu's QoS.append writes when a worker takes it: [message, exchange, routing key].
    client.hset(UNACKED_HASH, "some-tag", json.dumps([json.loads(raw), "", QUEUE]))

    for _ in range(2):
        report = sweeper.sweep()
        assert (report.candidates, report.missing, report.republished) == (1, 0, [])
        time.sleep(CONFIRM + 0.1)
    assert client.llen(QUEUE) == 0


def test_a_job_that_reappears_before_it_is_confirmed_lost_is_left_alone(setup):
    client, store, sweeper, message_for = setup
    _queue_job(store, message_for, "d" * 32)
    raw = client.rpop(QUEUE)
    assert sweeper.sweep().missing == 1
    client.rpush(QUEUE, raw)  # handed back (a restore) before the confirmation
    time.sleep(CONFIRM + 0.1)
    assert sweeper.sweep().missing == 0
    client.rpop(QUEUE)  # lost again: the wait starts over
    assert sweeper.sweep().republished == []


def test_ended_and_expired_jobs_leave_the_index(setup):
    client, store, sweeper, message_for = setup
    for job_id in ("e" * 32, "f" * 32, "g" * 32):
        _queue_job(store, message_for, job_id)
    assert client.zcard(store.pending_index) == 3
    store.start("e" * 32)
    store.succeed("e" * 32, {"summary": None})
    store.cancel("f" * 32)
    assert client.zrange(store.pending_index, 0, -1) == [b"g" * 32]
    client.delete(store.key("g" * 32))  # its record expired
    client.delete(QUEUE)
    time.sleep(CONFIRM + 0.1)
    for _ in range(2):
        assert sweeper.sweep().republished == []
    assert client.zcard(store.pending_index) == 0


def test_a_running_job_without_its_message_is_requeued_only_past_its_time_limit(setup):
    client, store, sweeper, message_for = setup
    _queue_job(store, message_for, "h" * 32)
    client.rpop(QUEUE)  # taken; its unacked copy never reached the replica
    store.start("h" * 32)
    assert sweeper.sweep().missing == 0  # it may still be running (grace 2 s)
    time.sleep(2.1)
    assert sweeper.sweep().missing == 1
    time.sleep(CONFIRM + 0.1)
    assert sweeper.sweep().republished == ["h" * 32]
    assert _queued_ids(client) == ["h" * 32]


def test_a_batch_is_indexed_too(setup):
    client, store, sweeper, message_for = setup
    from jobs.records import NewJob

    jobs = [NewJob(job_id, REQUEST.to_dict(), message_for(job_id, QUEUE)) for job_id in "ij"]
    store.create_batch("newsnlp:batch:x", jobs, QUEUE)
    assert sorted(client.zrange(store.pending_index, 0, -1)) == [b"i", b"j"]


def test_a_real_worker_runs_a_job_whose_message_was_lost(tmp_path):
    """The worker's own sweeper (every second here) finds the job and the worker runs it."""
    with isolated_stack(tmp_path, "sweeper", NEWSNLP_SWEEP_INTERVAL_SECONDS="1") as (api, _):
        client = redis.Redis.from_url(api.application.config["REDIS_URL"])
        store = JobStore(client, ttl_seconds=60)
        celery = create_celery("sweeper-test", celery_config(api.application.config["REDIS_URL"]))
        job_id = "ab" * 16  # the API reads only hex ids
        message = analyze_message(celery, job_id, QUEUE)
        # Recorded and indexed with its message pushed to a list no worker reads, then gone.
        store.create(job_id, REQUEST.to_dict(), enqueue=("nowhere", message))
        client.delete("nowhere")
        body = wait_for_job(api, job_id, timeout=60)
        assert body["status"] == "succeeded", body
        assert body["result"]["summary"]["sentences"]
        assert client.hget(store.key(job_id), "republished") == b"1"
        celery.close()
        client.close()
