"""Waiting on a job's end: the job store's `wait`, over Redis pub/sub with a periodic re-read.

The scripts that end a job publish its new status on the job's channel in the same atomic
step (jobs.store_scripts); a client waiting on the job (`GET /v1/jobs/<id>?wait=N`) is
answered as soon as it is published.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import redis

from jobs.contract import TERMINAL_STATUSES
from jobs.records import JobRecord


class JobWaits:
    """`wait(job_id, timeout)` for the job store: `get` reads a job's record, `channel` names
    the channel its end is published on."""

    def __init__(
        self,
        client: redis.Redis,
        get: Callable[[str], JobRecord | None],
        channel: Callable[[str], str],
        recheck_seconds: float,
    ) -> None:
        self.client = client
        self.get = get
        self.channel = channel
        self.recheck_seconds = recheck_seconds
        self._local = threading.local()  # each thread's subscriber

    def wait(self, job_id: str, timeout: float) -> JobRecord | None:
        """The job's record as soon as the job has ended, or as it is after `timeout` s.

        Subscribes to the job's channel first and reads the record after: an end written
        before the subscription is in the record, one written after it is published. The
        record is also read again every `recheck_seconds`, so that a lost message (a
        Redis restart drops subscriptions) costs at most that much delay, never the answer.
        Each thread keeps its subscriber connection from one wait to the next: a connection
        per wait cost more than the rest of the request.
        """
        if timeout <= 0:
            return self.get(job_id)
        deadline = time.monotonic() + timeout
        try:
            return self._wait(job_id, deadline)
        except redis.exceptions.ConnectionError:
            # The thread's kept connection may have gone with a Redis restart: once more, on
            # a new one (a Redis that is down fails this one too, and the caller answers 503).
            return self._wait(job_id, deadline)

    def _wait(self, job_id: str, deadline: float) -> JobRecord | None:
        timeout = max(0.0, deadline - time.monotonic())
        channel = self.channel(job_id).encode()
        pubsub = self._subscriber()
        try:
            pubsub.subscribe(channel)
            # Up to this channel's confirmation (what comes before it is what the thread's
            # previous wait left unread): from here on, the job's end cannot pass unseen.
            while (message := pubsub.get_message(timeout=min(timeout, 1.0))) is not None:
                if message["type"] == "subscribe" and message["channel"] == channel:
                    break
            record = self.get(job_id)
            while record is not None and record.status not in TERMINAL_STATUSES:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                pubsub.get_message(timeout=min(remaining, self.recheck_seconds))
                record = self.get(job_id)
            pubsub.unsubscribe(channel)  # its confirmation is read by the next wait
            return record
        except redis.exceptions.RedisError:
            self._local.pubsub = None
            pubsub.close()
            raise

    def _subscriber(self) -> redis.client.PubSub:
        pubsub = getattr(self._local, "pubsub", None)
        if pubsub is None:
            pubsub = self._local.pubsub = self.client.pubsub()
        return pubsub
