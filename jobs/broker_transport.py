"""kombu's Redis transport, with a full Redis (OOM) treated as a lost connection.

kombu counts a refused write as a channel error, which Celery's consumer does not recover
from: a Redis at its `maxmemory` stopped the worker ("Unrecoverable error:
OutOfMemoryError"). Here it is a connection error: the consumer reconnects and goes on.
And a message taken from the queue is kept in the worker's memory until Redis takes its
unacked copy (kombu's ack emulation, which a full Redis refuses), so that it is neither
lost nor run without the copy that redelivers it if the worker dies.

Also: when the consumer drops a connection Redis closed (a restart), kombu closes the
channel, and then hands back the messages it holds, or acks a job that ends meanwhile, with
a client built from a connection already released: an AttributeError that Celery does not
recover from either (the chaos run's Redis restart stopped workers so, on both paths; kombu
issues #582 and #970 are the same). So does a job that asks for its message to be requeued
(no replica confirmed its end in time) after its connection was lost in a failover: both
workers of the chaos run's failover step stopped so when the machine was CPU-starved. Those
messages stay in Redis's unacked set, which redelivers them after the visibility timeout (a
job that has ended is not run again): the worker logs it and goes on.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import redis
from kombu.transport import redis as kombu_redis
from kombu.utils.scheduling import sorted_cycle

from jobs.redis_errors import is_out_of_memory

logger = logging.getLogger(__name__)

# How long a taken message waits for Redis to take its unacked copy before the worker gives
# up on it (kombu's own path then: the consumer reconnects; the message is lost).
UNACKED_WAIT_SECONDS = 600.0


class QoS(kombu_redis.QoS):
    def append(self, message: Any, delivery_tag: Any) -> None:
        deadline = time.monotonic() + UNACKED_WAIT_SECONDS
        delay = 0.2
        while True:
            try:
                super().append(message, delivery_tag)
                return
            except redis.exceptions.ResponseError as exc:
                if not is_out_of_memory(exc) or time.monotonic() > deadline:
                    raise
                logger.warning("redis is full: message %s waits, retrying in %.1f s",
                               delivery_tag, delay)  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, 5.0)

    def restore_unacked(self, client: Any = None) -> None:
        try:
            super().restore_unacked(client)
        except AttributeError:  # the connection is already released (see the module's doc)
            logger.warning("held messages not handed back on a closed connection: they are "
                           "redelivered after the visibility timeout")  # fmt: skip

    def ack(self, delivery_tag: Any) -> None:
        try:
            super().ack(delivery_tag)
        except AttributeError:  # the connection is already released (see the module's doc)
            logger.warning("message %s not acked on a closed connection: it is redelivered "
                           "after the visibility timeout", delivery_tag)  # fmt: skip

    def reject(self, delivery_tag: Any, requeue: bool = False) -> None:
        try:
            super().reject(delivery_tag, requeue=requeue)
        except AttributeError:  # the connection is already released (see the module's doc)
            logger.warning("message %s not handed back on a closed connection: it is "
                           "redelivered after the visibility timeout", delivery_tag)  # fmt: skip


class Channel(kombu_redis.Channel):
    QoS = QoS


class Transport(kombu_redis.Transport):
    Channel = Channel
    connection_errors = (
        *kombu_redis.Transport.connection_errors,
        redis.exceptions.OutOfMemoryError,
    )


class SentinelChannel(kombu_redis.SentinelChannel):
    QoS = QoS


class SentinelTransport(kombu_redis.SentinelTransport):
    """The same, finding the current primary through Redis Sentinel (jobs.redis_target)."""

    Channel = SentinelChannel
    connection_errors = Transport.connection_errors


# The lanes' bound: after this many interactive jobs in a row, a worker lists the bulk queue
# first once, so a steady stream of interactive jobs slows the bulk lane (to 1 job in
# BULK_EVERY + 1) but never stops it.
BULK_EVERY = 10


class LaneCycle(sorted_cycle):
    """The order of a worker's queues in its BRPOP: sorted by name (`newsnlp` before
    `newsnlp-bulk`, jobs.contract.WORKER_QUEUES), so Redis answers with an interactive job
    whenever one waits, except after BULK_EVERY interactive jobs in a row, when the other
    queues come first for one take (and an empty bulk queue still lets an interactive job
    through at once: BRPOP answers from the first key that holds a message)."""

    def __init__(self, it: Any = None) -> None:
        super().__init__(it)
        self.streak = 0

    def consume(self, n: int) -> list[str]:
        order = sorted(self.items[:n])
        return order[1:] + order[:1] if self.streak >= BULK_EVERY else order

    def rotate(self, last_used: str) -> None:
        first = min(self.items) if self.items else None
        self.streak = self.streak + 1 if last_used == first else 0
