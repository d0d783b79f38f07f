"""Webhook delivery: `deliver_webhook`, the task the webhook worker (`worker.webhook_main`) runs.

Each attempt has a total deadline (NEWSNLP_WEBHOOK_TIMEOUT, from the connection to the last
byte read), however slowly the receiver sends its answer, and reads at most
`MAX_REPLY_BYTES` of it: a receiver can hold one of the webhook worker's threads for the
deadline, never longer, and never a model worker. It connects to the addresses checked,
not to a second lookup of the host. What is recorded on the job is only whether the
delivery was made (`delivered` or `failed`): why it failed (refused, no answer, which
status) would let a client map the allowlisted networks; the worker log has it.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import socket
import ssl
import threading
import time

from celery import Celery

from jobs.contract import WEBHOOK_TASK
from jobs.records import record_body
from jobs.store import JobStore
from jobs.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    Destination,
    DestinationRefused,
    check_destination,
    sign,
)
from worker.base import NewsnlpTask, with_redis_retry
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)

MAX_REPLY_BYTES = 4096
CONNECT_TIMEOUT = 3.0


class DeliveryFailed(Exception):
    """The attempt did not get a 2xx answer in time; the message says why (for the log)."""


def _connection(
    destination: Destination, address: str, timeout: float
) -> http.client.HTTPConnection:
    """A connection to `address` (checked), speaking to `destination.host` (Host, SNI)."""
    sock = socket.create_connection((address, destination.port), timeout=timeout)
    if destination.scheme == "https":
        context = ssl.create_default_context()
        sock = context.wrap_socket(sock, server_hostname=destination.host)
    connection = http.client.HTTPConnection(destination.host, destination.port, timeout=timeout)
    connection.sock = sock
    return connection


def post(destination: Destination, body: bytes, headers: dict[str, str], deadline_s: float) -> int:
    """POST `body` to `destination` within `deadline_s` seconds in all; its status code.

    A watchdog shuts the socket down at the deadline: socket timeouts alone bound each read,
    and a receiver sending a byte a second would never trip them.
    """
    deadline = time.monotonic() + deadline_s
    last: Exception | None = None
    for address in destination.addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            connection = _connection(destination, address, min(CONNECT_TIMEOUT, remaining))
        except OSError as exc:
            last = exc
            continue
        sock = connection.sock
        watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _shut, [sock])
        watchdog.daemon = True
        watchdog.start()
        try:
            sock.settimeout(max(0.01, deadline - time.monotonic()))
            connection.request("POST", destination.target, body=body, headers=headers)
            response = connection.getresponse()
            read = 0
            while read < MAX_REPLY_BYTES and time.monotonic() < deadline:
                chunk = response.read1(MAX_REPLY_BYTES - read) if response.fp else b""
                if not chunk:
                    break
                read += len(chunk)
            if time.monotonic() >= deadline:
                raise DeliveryFailed(f"no complete answer within {deadline_s:g} s")
            return response.status
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if time.monotonic() >= deadline:
                raise DeliveryFailed(f"no complete answer within {deadline_s:g} s") from None
            raise DeliveryFailed(type(exc).__name__) from None
        finally:
            watchdog.cancel()
            connection.close()
    raise DeliveryFailed(f"no connection: {type(last).__name__ if last else 'deadline'}")


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


def deliver_webhook(self: NewsnlpTask, job_id: str) -> None:
    """POST an ended job to its callback URL, signed with HMAC-SHA256 over the timestamp
    and the body; a non-2xx answer or none in time is retried with exponential backoff."""
    settings = self.settings
    store = self.store
    record = with_redis_retry(lambda: store.get(job_id))
    request = with_redis_retry(lambda: store.get_request(job_id)) or {}
    url = request.get("callback_url")
    if record is None or not url:
        return
    attempt = self.request.retries + 1
    if not settings.webhook_secret:
        _outcome(store, job_id, attempt, "NEWSNLP_WEBHOOK_SECRET is unset")
        return
    try:
        destination = check_destination(url, settings.webhook_allowlist)
    except DestinationRefused as exc:
        _outcome(store, job_id, attempt, f"refused: {exc}")
        return
    body = json.dumps(record_body(record), ensure_ascii=False).encode("utf-8")
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(settings.webhook_secret, body, timestamp),
        "X-Newsnlp-Job": job_id,
        "User-Agent": "newsnlp-webhook",
    }
    try:
        status = post(destination, body, headers, settings.webhook_timeout)
        problem = None if 200 <= status < 300 else f"HTTP {status}"
    except DeliveryFailed as exc:
        problem = str(exc)
    if problem is None:
        _outcome(store, job_id, attempt, None)
        return
    if self.request.retries >= settings.webhook_max_retries:
        _outcome(store, job_id, attempt, problem)
        return
    logger.warning("webhook of job %s not delivered (%s): retrying", job_id, problem)
    countdown = min(300, 2 ** (self.request.retries + 1)) * (0.75 + 0.5 * random.random())
    raise self.retry(countdown=countdown)


def _outcome(store: JobStore, job_id: str, attempts: int, problem: str | None) -> None:
    """Record `delivered` or `failed` (never why: that stays in the log)."""
    status = "delivered" if problem is None else "failed"
    outcome = {
        "status": status,
        "attempts": attempts,
        "error": None if problem is None else "failed",
    }
    with_redis_retry(lambda: store.set_webhook_outcome(job_id, outcome))
    if problem is None:
        logger.info("webhook of job %s delivered after %s attempt(s)", job_id, attempts)
    else:
        logger.warning(
            "webhook of job %s failed after %s attempt(s): %s", job_id, attempts, problem
        )


def register_webhook_task(app: Celery, settings: WorkerSettings) -> None:
    """Add `deliver_webhook` to `app` under its contract name (jobs.contract)."""
    app.task(
        bind=True,
        base=NewsnlpTask,
        name=WEBHOOK_TASK,
        ignore_result=True,
        max_retries=settings.webhook_max_retries,
        # Enforced by prefork only; in the webhook worker's threads the attempt's own
        # deadline bounds it.
        soft_time_limit=60,
        time_limit=90,
    )(deliver_webhook)
