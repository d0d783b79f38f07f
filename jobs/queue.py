"""A job's queue message, as Celery's Redis transport (kombu) keeps it in the queue's list.

The API records a job and pushes its message in one atomic Lua script (`JobStore.create`
with `enqueue`): a job is recorded exactly when its message is queued, in one round trip to
Redis, and a Redis that fails mid-way leaves neither. `celery.send_task` would take a second
round trip, after the record, and half of the API's time for a POST.

The message is what `send_task` writes for the same task: Celery's own task message
(protocol 2: headers, properties and body from `app.amqp.as_task_v2`) in kombu's Redis
envelope (body in base64, delivery info, a delivery tag). Workers read it as any Celery
message; when one dies holding it, kombu restores it from the delivery info as usual.
`tests/integration/test_queue_message.py` compares it, field by field, with what kombu
writes, so an upgrade of Celery or kombu that changes the format fails the tests.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from celery import Celery

from jobs.contract import ANALYZE_TASK

# kombu's Redis transport: a message of priority 0 goes to the list named as the queue;
# delivery mode 2 is "persistent", what Celery sends by default.
PERSISTENT = 2


def task_message(app: Celery, task_name: str, task_id: str, args: list[Any], queue: str) -> str:
    """The JSON that a worker consuming `queue` reads as `task_name(*args)` with `task_id`."""
    # The arguments `send_task` passes to the same call when given only these.
    message = app.amqp.as_task_v2(
        task_id, task_name, args=args, reply_to=app.thread_oid, ignore_result=None
    )
    body = json.dumps(message.body).encode("utf-8")
    return json.dumps(
        {
            "body": base64.b64encode(body).decode("ascii"),
            "content-encoding": "utf-8",
            "content-type": "application/json",
            "headers": message.headers,
            "properties": {
                **message.properties,
                "delivery_mode": PERSISTENT,
                "delivery_info": {"exchange": "", "routing_key": queue},
                "priority": 0,
                "body_encoding": "base64",
                "delivery_tag": str(uuid.uuid4()),
            },
        }
    )


def analyze_message(app: Celery, job_id: str, queue: str) -> str:
    """A job's queue message: the analysis task, named by the job's id, with it as argument
    (the API writes it with the job; the sweeper, jobs.sweeper, writes it again if lost)."""
    return task_message(app, ANALYZE_TASK, job_id, [job_id], queue)


# Where kombu's Redis transport keeps the messages its workers hold (taken, not yet acked),
# by delivery tag: each value is the JSON of [message, exchange, routing key].
UNACKED_HASH = "unacked"


def message_task_id(raw: bytes | str) -> str | None:
    """The task id of a message as a queue list holds it, or None if it is not a task."""
    try:
        return str(json.loads(raw)["headers"]["id"])
    except (ValueError, KeyError, TypeError):
        return None


def unacked_task_id(raw: bytes | str) -> str | None:
    """The task id of a message as the unacked hash holds it, or None."""
    try:
        return str(json.loads(raw)[0]["headers"]["id"])
    except (ValueError, KeyError, TypeError, IndexError):
        return None
