"""JobStore: the service's own record of every job, in Redis.

Celery reports an unknown task id as PENDING, so the service keeps its own record: a job
exists exactly when the API created it. Every status change is one atomic Lua script
(jobs.store_scripts); the scripts that end a job also publish its new status on the job's
channel, so that a client waiting on the job is answered when it ends (`JobStore.wait`).
Each priority (lane) has its own queue and its own caps: a bulk backlog at its cap refuses
bulk jobs only, never an interactive one.

With `min_replicas` (Redis Sentinel, jobs.redis_target), a job's creation and its end count
only once that many replicas hold them: the script and a WAIT go in one pipeline, on one
connection (WAIT waits for that connection's writes). A creation the replicas did not take
in time is taken back (`store_scripts.RETRACT`) and refused (`ReplicationTimeout`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import redis

from jobs import store_scripts
from jobs.contract import JobStatus, Priority
from jobs.records import (
    RECORD_FIELDS,
    Creation,
    JobRecord,
    NewJob,
    StartedJob,
    record_from_values,
    request_hash,
    request_payload,
    text,
    utc_now,
)
from jobs.telemetry import Increments
from jobs.waits import JobWaits


class QueueFull(Exception):
    """The job's lane holds as many jobs, or bytes of jobs, as its caps allow: nothing was
    recorded."""


class ReplicationTimeout(Exception):
    """Fewer replicas than `min_replicas` confirmed a write within the timeout. A creation
    is taken back (nothing recorded); an end stays written on the primary, unconfirmed."""


DEFAULT_MAX_QUEUED_JOBS = 10_000
DEFAULT_MAX_QUEUED_BYTES = 256 * 1024 * 1024


class JobStore:
    """Job records in Redis hashes under `<prefix><id>`.

    An ended job's record expires `ttl_seconds` after it ended. A queued or running job's
    record lives `pending_ttl_seconds` (default 7 days, never less than `ttl_seconds`), so
    that a job waiting in a long queue cannot expire before it runs, while a record whose
    job can never run (its message lost with a Redis that had no persistence) still goes.

    Jobs that have not ended are counted, with their size (request and queue message), per
    lane: interactive jobs under `<counter_prefix>jobs` and `<counter_prefix>bytes`, bulk
    jobs under `<counter_prefix>bulk:jobs` and `<counter_prefix>bulk:bytes`. A job that would
    take its lane over either cap (`max_queued_jobs`, `max_queued_bytes`, the same for each
    lane) is refused (`QueueFull`) and nothing is kept.
    """

    def __init__(
        self,
        client: redis.Redis,
        *,
        ttl_seconds: int,
        pending_ttl_seconds: int = 7 * 86_400,
        max_attempts: int = 3,
        prefix: str = "newsnlp:job:",
        idempotency_prefix: str = "newsnlp:idem:",
        counter_prefix: str = "newsnlp:queued:",
        max_queued_jobs: int = DEFAULT_MAX_QUEUED_JOBS,
        max_queued_bytes: int = DEFAULT_MAX_QUEUED_BYTES,
        wait_recheck_seconds: float = 1.0,
        min_replicas: int = 0,
        replica_timeout_ms: int = 1000,
        fence_key: str = "newsnlp:fence",
        pending_index: str = "newsnlp:pending",
    ) -> None:
        self.lane_counters = {
            Priority.INTERACTIVE: [counter_prefix + "jobs", counter_prefix + "bytes"],
            Priority.BULK: [counter_prefix + "bulk:jobs", counter_prefix + "bulk:bytes"],
        }
        # The index of jobs not ended (their ids, scored by when their message was last
        # pushed): jobs.sweeper finds jobs whose message is lost there.
        self.pending_index = pending_index
        # What the ending scripts take (store_scripts.RELEASE): both lanes' counters,
        # interactive first, then the index.
        self.ending_keys = [
            *self.lane_counters[Priority.INTERACTIVE],
            *self.lane_counters[Priority.BULK],
            pending_index,
        ]
        self.max_queued_jobs = max_queued_jobs
        self.max_queued_bytes = max_queued_bytes
        self.idempotency_prefix = idempotency_prefix
        self.client = client
        self.ttl_seconds = ttl_seconds
        self.pending_ttl_seconds = max(pending_ttl_seconds, ttl_seconds)
        self.max_attempts = max_attempts
        self.prefix = prefix
        self.wait_recheck_seconds = wait_recheck_seconds
        self.min_replicas = min_replicas
        self.replica_timeout_ms = replica_timeout_ms
        self.fence_key = fence_key
        self._waits = JobWaits(client, self.get, self.ended_channel, wait_recheck_seconds)
        self._create = client.register_script(store_scripts.CREATE)
        self._create_batch = client.register_script(store_scripts.CREATE_BATCH)
        self._start = client.register_script(store_scripts.START)
        self._finish = client.register_script(store_scripts.FINISH)
        self._cancel = client.register_script(store_scripts.CANCEL)
        self._retract = client.register_script(store_scripts.RETRACT)
        self._republish = client.register_script(store_scripts.REPUBLISH)

    def _replicated(self, script: Any, keys: list[Any], args: list[Any]) -> tuple[Any, bool]:
        """Run `script`; with `min_replicas`, WAIT on the same connection after it. Returns
        what the script answered and whether enough replicas confirmed its writes."""
        if self.min_replicas == 0:
            return script(keys=keys, args=args), True
        pipe = self.client.pipeline(transaction=False)
        script(keys=keys, args=args, client=pipe)
        pipe.execute_command("WAIT", self.min_replicas, self.replica_timeout_ms)
        outcome, confirmed = pipe.execute()
        return outcome, int(confirmed) >= self.min_replicas

    def key(self, job_id: str) -> str:
        return self.prefix + job_id

    def ended_channel(self, job_id: str) -> str:
        """The pub/sub channel on which the job's terminal status is published."""
        return self.prefix + job_id + ":ended"

    def create(
        self,
        job_id: str,
        request: dict[str, Any],
        *,
        idempotency_key: str | None = None,
        idempotency_ttl: int = 86_400,
        enqueue: tuple[str, str] | None = None,
        metrics: Increments | None = None,
        owner: str = "",
        priority: Priority = Priority.INTERACTIVE,
    ) -> Creation:
        """Record a queued job of `owner`, in the lane of `priority`. With an idempotency key
        that `owner` already used, create nothing and return the job that key made (the
        caller compares `request_hash`); the same key of another owner is another key. Over
        a cap of the lane, `QueueFull`.

        In the same atomic step, `enqueue=(list, message)` pushes the job's queue message
        (`jobs.queue.task_message`) and `metrics` are added: a job is recorded exactly when
        its message is queued and counted. With `min_replicas`, a new job no replica
        confirmed in time is taken back and `ReplicationTimeout` raised: nothing recorded.
        """
        payload = request_payload(request)
        digest = request_hash(request, payload)
        idem_key = ""
        if idempotency_key is not None:
            idem_key = self._idempotency_key(idempotency_key, owner)
        list_name, message = enqueue or ("", "")
        (created, value), confirmed = self._replicated(
            self._create,
            keys=[self.key(job_id), *self.lane_counters[priority], self.pending_index],
            args=[
                job_id,
                utc_now(),
                payload,
                self.pending_ttl_seconds,
                idem_key,
                digest,
                idempotency_ttl,
                list_name,
                message,
                owner,
                self.max_queued_jobs,
                self.max_queued_bytes,
                len(payload.encode("utf-8")) + len(message),
                priority.value,
                *store_scripts.metrics_args(metrics),
            ],  # fmt: skip
        )
        if created == 2:
            raise QueueFull
        if not confirmed:
            if created:
                self._retract(
                    keys=[self.key(job_id), *self.ending_keys],
                    args=[idem_key, job_id, list_name, message, *_taken_back(metrics)],
                )
            raise ReplicationTimeout
        if created:
            return Creation(job_id=job_id, created=True, request_hash=digest)
        existing_id, existing_hash = (text(value) or "").split(" ", 1)
        return Creation(job_id=existing_id, created=False, request_hash=existing_hash)

    def create_batch(
        self,
        batch_key: str,
        jobs: list[NewJob],
        queue: str,
        *,
        owner: str = "",
        metrics: Increments | None = None,
        priority: Priority = Priority.BULK,
    ) -> None:
        """Record a batch and its jobs, each queued in the lane of `priority` (`queue`), in
        one atomic step: all of them, or none (`QueueFull`) when they do not all fit under
        the lane's caps. With `min_replicas`, a batch no replica confirmed in time is
        taken back, job by job, and `ReplicationTimeout` raised."""
        payloads = [request_payload(job.request) for job in jobs]
        sizes = [
            len(payload.encode("utf-8")) + len(job.message)
            for payload, job in zip(payloads, jobs, strict=True)
        ]
        per_job = [
            item
            for job, payload, size in zip(jobs, payloads, sizes, strict=True)
            for item in (job.job_id, payload, job.message, size)
        ]
        admitted, confirmed = self._replicated(
            self._create_batch,
            keys=[
                *self.lane_counters[priority],
                batch_key,
                self.pending_index,
                *(self.key(job.job_id) for job in jobs),
            ],
            args=[
                utc_now(),
                self.pending_ttl_seconds,
                owner,
                self.max_queued_jobs,
                self.max_queued_bytes,
                queue,
                json.dumps([job.job_id for job in jobs]),
                sum(sizes),
                priority.value,
                *per_job,
                *store_scripts.metrics_args(metrics),
            ],  # fmt: skip
        )
        if not admitted:
            raise QueueFull
        if not confirmed:
            pipe = self.client.pipeline(transaction=False)
            for n, job in enumerate(jobs):
                taken_back = _taken_back(metrics) if n == 0 else []  # added once, for all
                self._retract(
                    keys=[self.key(job.job_id), *self.ending_keys],
                    args=["", job.job_id, queue, job.message, *taken_back],
                    client=pipe,
                )
            pipe.delete(batch_key)
            pipe.execute()
            raise ReplicationTimeout

    def pending_before(self, cutoff: float, limit: int) -> list[str]:
        """Up to `limit` ids of jobs not ended whose message was last pushed before `cutoff`
        (seconds since the epoch, by Redis's clock), oldest first."""
        ids: list[Any] = self.client.zrangebyscore(
            self.pending_index, "-inf", cutoff, start=0, num=limit
        )
        return [str(text(job_id)) for job_id in ids]

    def forget_pending(self, job_ids: list[str]) -> None:
        """Take jobs whose record is gone (expired) out of the index."""
        if job_ids:
            self.client.zrem(self.pending_index, *job_ids)

    def republish(self, job_id: str, queue: str, message: str) -> bool:
        """Push a new queue message for a job that has not ended (its own was lost); False,
        and nothing pushed, when the job has ended or gone meanwhile."""
        pushed = self._republish(
            keys=[self.key(job_id), self.pending_index], args=[queue, message, job_id]
        )
        return bool(pushed)

    def queued(self, priority: Priority = Priority.INTERACTIVE) -> tuple[int, int]:
        """The jobs of a lane not ended yet, and their bytes, as its caps count them."""
        jobs, size = self.client.mget(self.lane_counters[priority])
        return int(jobs or 0), int(size or 0)

    def _idempotency_key(self, idempotency_key: str, owner: str) -> str:
        scoped = f"{owner}\n{idempotency_key}" if owner else idempotency_key
        return self.idempotency_prefix + hashlib.sha256(scoped.encode()).hexdigest()

    def cancel(self, job_id: str, metrics: Increments | None = None) -> str:
        """Cancel a queued or running job. Returns 'missing', the terminal status the job
        already had, or 'was_queued' / 'was_running'. `metrics` are added in the same atomic
        step, only when the job is canceled."""
        error = json.dumps({"code": "canceled", "message": "the job was canceled by a client"})
        args: list[Any] = [utc_now(), error, self.ttl_seconds, self.ended_channel(job_id)]
        outcome = self._cancel(
            keys=[self.key(job_id), *self.ending_keys],
            args=[*args, *store_scripts.metrics_args(metrics)],
        )
        return text(outcome) or "missing"

    def get(self, job_id: str) -> JobRecord | None:
        return record_from_values(job_id, self.client.hmget(self.key(job_id), RECORD_FIELDS))

    def get_many(self, job_ids: list[str]) -> list[JobRecord | None]:
        """The records of `job_ids` in one round trip, None where one is gone."""
        pipe = self.client.pipeline(transaction=False)
        for job_id in job_ids:
            pipe.hmget(self.key(job_id), RECORD_FIELDS)
        rows = zip(job_ids, pipe.execute(), strict=True)
        return [record_from_values(job_id, values) for job_id, values in rows]

    def wait(self, job_id: str, timeout: float) -> JobRecord | None:
        """The job's record as soon as the job has ended, or as it is after `timeout` s
        (jobs.waits)."""
        return self._waits.wait(job_id, timeout)

    def set_webhook_outcome(self, job_id: str, outcome: dict[str, Any]) -> None:
        """Record how the job's webhook went (only on an existing record)."""
        key = self.key(job_id)
        if self.client.exists(key):
            self.client.hset(key, "webhook", json.dumps(outcome))

    def get_request(self, job_id: str) -> dict[str, Any] | None:
        raw = text(self.client.hget(self.key(job_id), "request"))
        return json.loads(raw) if raw else None

    def start(self, job_id: str) -> StartedJob:
        """Mark the job running and return its request, unless it is missing or already ended.

        A job that has been started `max_attempts` times already (its worker kept dying)
        is failed here instead of being run again. With `min_replicas`, a job not to be run
        (missing, ended) raises `ReplicationTimeout` unless a replica confirms what was read:
        its message must not be acknowledged on the word of this primary alone.
        """
        error = json.dumps(
            {
                "code": "worker_lost",
                "message": f"the job was started {self.max_attempts} times and never finished",
            }
        )
        (status, request), confirmed = self._replicated(
            self._start,
            keys=[self.key(job_id), *self.ending_keys],
            args=[
                utc_now(),
                self.max_attempts,
                error,
                self.ttl_seconds,
                self.ended_channel(job_id),
                self.fence_key if self.min_replicas else "",
            ],
        )
        if not request and not confirmed:
            raise ReplicationTimeout
        status = text(status) or "missing"
        return StartedJob(status=status, request=json.loads(request) if request else None)

    def succeed(
        self, job_id: str, result: dict[str, Any], metrics: Increments | None = None
    ) -> bool:
        """Store the result; False when the job had already ended (the write is skipped).

        `metrics` are added in the same atomic step, only when the result is written. With
        `min_replicas`, `ReplicationTimeout` when no replica confirmed the result in time
        (it is written on the primary): the message must not be acknowledged then.
        """
        return self._end(job_id, JobStatus.SUCCEEDED, "result", result, metrics)

    def fail(self, job_id: str, code: str, message: str, metrics: Increments | None = None) -> bool:
        error = {"code": code, "message": message}
        return self._end(job_id, JobStatus.FAILED, "error", error, metrics)

    def _end(
        self,
        job_id: str,
        status: JobStatus,
        field: str,
        value: dict[str, Any],
        metrics: Increments | None,
    ) -> bool:
        args = [
            status.value,
            field,
            json.dumps(value, ensure_ascii=False),
            utc_now(),
            self.ttl_seconds,
            self.ended_channel(job_id),
            *store_scripts.metrics_args(metrics),
        ]
        written, confirmed = self._replicated(
            self._finish, keys=[self.key(job_id), *self.ending_keys], args=args
        )
        if written and not confirmed:
            raise ReplicationTimeout
        return bool(written)


def _taken_back(metrics: Increments | None) -> list[str | int]:
    """The metrics arguments that take a creation's `metrics` back."""
    return store_scripts.metrics_args(metrics.negated() if metrics else None)
