"""The command line of each worker role, built here only: `make run`, the tests, chaos and
the image's entrypoint (`python -m worker.command webhook-worker`) all start it from here.

Roles: `worker` (the models, the `newsnlp` queue then the `newsnlp-bulk` one, prefork) and
`webhook-worker` (webhook deliveries, the `newsnlp-webhooks` queue, threads, no models).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence

from jobs.contract import WEBHOOK_QUEUE, WORKER_QUEUES
from jobs.env import env_int

ROLES = {
    # Interactive first: the order the transport takes the queues in (jobs.broker).
    "worker": ("worker.main", ",".join(WORKER_QUEUES), "newsnlp"),
    "webhook-worker": ("worker.webhook_main", WEBHOOK_QUEUE, "newsnlp-webhooks"),
}
# Threads of a webhook worker: each holds one delivery at most NEWSNLP_WEBHOOK_TIMEOUT s.
DEFAULT_WEBHOOK_CONCURRENCY = 8


def concurrency(role: str, env: Mapping[str, str]) -> int:
    if role == "webhook-worker":
        return env_int(env, "NEWSNLP_WEBHOOK_CONCURRENCY", DEFAULT_WEBHOOK_CONCURRENCY, minimum=1)
    return env_int(env, "NEWSNLP_WORKER_CONCURRENCY", 1, minimum=1)


def worker_command(
    role: str,
    *,
    concurrency: int,
    hostname: str | None = None,
    celery: str = "celery",
    extra: Sequence[str] = (),
) -> list[str]:
    """`celery worker` for `role`; `hostname` defaults to `<node>@%h` (%h: the host name)."""
    module, queue, node = ROLES[role]
    return [
        celery, "-A", module, "worker", "--queues", queue,
        "--concurrency", str(concurrency), "--hostname", hostname or f"{node}@%h",
        "--loglevel", "INFO", *extra,
    ]  # fmt: skip


def main(argv: Sequence[str]) -> None:
    """Replace this process with the worker of the role named (`exec`: signals reach it)."""
    if len(argv) != 1 or argv[0] not in ROLES:
        sys.exit(f"usage: python -m worker.command {{{','.join(ROLES)}}}")
    role = argv[0]
    args = worker_command(role, concurrency=concurrency(role, os.environ))
    os.execvp(args[0], args)


if __name__ == "__main__":
    main(sys.argv[1:])
