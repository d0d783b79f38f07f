"""The sweeper: finds jobs whose queue message is lost, and queues them again.

A job's message is in its lane's queue list until a worker takes it, then in kombu's unacked
hash until the worker acks it (and back in the list when a worker dies holding it). kombu
takes a message with BRPOP and writes its unacked copy in a second command: when the reply
to the BRPOP is lost (a failover kills the primary after the pop reached the replica), the
message is in neither, and its job would stay queued forever. So would a running job whose
unacked copy did not reach the replica before its worker died.

Every job that has not ended is in the job store's index (`JobStore.pending_index`, kept by
the same Lua scripts that create and end jobs), scored by when its message was last pushed.
`Sweeper.sweep` looks at the jobs of the index older than `min_age`, reads which of them a
queue list or the unacked hash holds, and notes the others as missing (in a Redis hash, so
that any worker's sweep carries on another's). A job still missing `confirm_seconds` later,
and still queued (or running for longer than `running_grace`, past its hard time limit), is
given a new message (`JobStore.republish`). The wait rules out a message in passage: taken by
a worker that has not written its unacked copy yet, or handed back mid-scan. Its cost: a
lost job runs `min_age` to `min_age + confirm_seconds + interval` late.

A job republished by mistake (its message was only in a worker's hands, for longer than
`confirm_seconds`) runs once more at worst: its result is written once (jobs.store_scripts).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import redis

from jobs.contract import LANE_QUEUES, TERMINAL_STATUSES, JobStatus
from jobs.queue import UNACKED_HASH, message_task_id, unacked_task_id
from jobs.records import JobRecord, text
from jobs.store import JobStore

logger = logging.getLogger(__name__)

SCAN_CHUNK = 500
MAX_CANDIDATES = 50_000


@dataclass(frozen=True)
class SweepReport:
    candidates: int  # jobs of the index older than min_age
    missing: int  # of those, in no queue list and not in the unacked hash
    republished: list[str]


class Sweeper:
    """Republishes jobs whose message is lost (see the module's doc).

    `message_for(job_id, queue)` builds a job's queue message (jobs.queue.task_message)."""

    def __init__(
        self,
        store: JobStore,
        message_for: Callable[[str, str], str],
        *,
        min_age: float = 60.0,
        confirm_seconds: float = 60.0,
        running_grace: float = 150.0,
        missing_key: str = "newsnlp:sweep:missing",
    ) -> None:
        self.store = store
        self.client = store.client
        self.message_for = message_for
        self.min_age = min_age
        self.confirm_seconds = confirm_seconds
        self.running_grace = running_grace
        self.missing_key = missing_key

    def now(self) -> float:
        """Redis's clock: the index is scored by it."""
        seconds, micros = self.client.time()
        return float(seconds) + micros / 1e6

    def sweep(self) -> SweepReport:
        now = self.now()
        candidates = self.store.pending_before(now - self.min_age, MAX_CANDIDATES)
        if not candidates:
            self.client.delete(self.missing_key)
            return SweepReport(0, 0, [])
        records = self.store.get_many(candidates)
        self.store.forget_pending(
            [job_id for job_id, record in zip(candidates, records, strict=True) if not record]
        )
        # Queued, or running past its time limit: only those need their message looked for.
        suspects = [
            (job_id, record)
            for job_id, record in zip(candidates, records, strict=True)
            if record is not None
            and record.status not in TERMINAL_STATUSES
            and (record.status != JobStatus.RUNNING or self._past_time_limit(record, now))
        ]
        held = self._held_task_ids() if suspects else set()
        lost = [(job_id, record) for job_id, record in suspects if job_id not in held]
        noted = {str(text(k)): float(v) for k, v in self.client.hgetall(self.missing_key).items()}
        republished = []
        pipe = self.client.pipeline(transaction=False)
        pipe.delete(self.missing_key)
        for job_id, record in lost:
            first_missed = noted.get(job_id, now)
            if now - first_missed >= self.confirm_seconds:
                queue = LANE_QUEUES[record.priority]
                if self.store.republish(job_id, queue, self.message_for(job_id, queue)):
                    republished.append(job_id)
                    logger.warning(
                        "job %s was %s with its message in no queue and not held by any "
                        "worker for %.0f s: queued again", job_id, record.status.value,
                        now - first_missed,
                    )  # fmt: skip
                continue
            pipe.hset(self.missing_key, job_id, repr(first_missed))
        # Rewritten by every sweep; gone on its own should the sweeps stop.
        pipe.expire(self.missing_key, int(max(3600, 10 * self.confirm_seconds)))
        pipe.execute()
        return SweepReport(len(candidates), len(lost), republished)

    def _past_time_limit(self, record: JobRecord, now: float) -> bool:
        if not record.started_at:
            return True
        started = datetime.fromisoformat(record.started_at.replace("Z", "+00:00")).timestamp()
        return now - started > self.running_grace

    def _held_task_ids(self) -> set[str]:
        """The task ids of every message in a lane's queue list or in the unacked hash.

        The lists are read from their head (where new messages go) in chunks: a message
        pushed meanwhile shifts the rest further on, never before the part read, and one
        taken from the tail meanwhile is in the unacked hash, read after the lists."""
        held = set()
        for queue in LANE_QUEUES.values():
            for raw in self._list_items(queue):
                if (task_id := message_task_id(raw)) is not None:
                    held.add(task_id)
        for _tag, raw in self.client.hscan_iter(UNACKED_HASH, count=SCAN_CHUNK):
            if (task_id := unacked_task_id(raw)) is not None:
                held.add(task_id)
        return held

    def _list_items(self, queue: str) -> Iterator[bytes | str]:
        start = 0
        while True:
            chunk = self.client.lrange(queue, start, start + SCAN_CHUNK - 1)
            yield from chunk
            if len(chunk) < SCAN_CHUNK:
                return
            start += SCAN_CHUNK


class SweeperThread:
    """Runs `sweeper.sweep()` every `interval` seconds from a daemon thread, on one worker of
    the fleet at a time: each sweep takes a lock in Redis that lasts the interval."""

    def __init__(
        self, sweeper: Sweeper, interval: float, lock_key: str = "newsnlp:sweep:lock"
    ) -> None:
        self.sweeper = sweeper
        self.interval = interval
        self.lock_key = lock_key
        self.token = uuid.uuid4().hex
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, name="newsnlp-sweeper", daemon=True)

    def _run(self) -> None:
        while not self.stopped.wait(self.interval):
            try:
                client = self.sweeper.client
                if client.set(self.lock_key, self.token, nx=True, px=int(self.interval * 900)):
                    self.sweeper.sweep()
            except redis.exceptions.RedisError as exc:
                logger.warning("sweep skipped: %s", type(exc).__name__)
            except Exception:  # a sweep must never stop the worker
                logger.exception("sweep failed")

    def stop(self) -> None:
        self.stopped.set()
