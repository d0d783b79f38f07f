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
from worker import machine

ROLES = {
    # Interactive first: the order the transport takes the queues in (jobs.broker).
    "worker": ("worker.main", ",".join(WORKER_QUEUES), "newsnlp"),
    "webhook-worker": ("worker.webhook_main", WEBHOOK_QUEUE, "newsnlp-webhooks"),
}
# Threads of a webhook worker: each holds one delivery at most NEWSNLP_WEBHOOK_TIMEOUT s.
DEFAULT_WEBHOOK_CONCURRENCY = 8


def concurrency(role: str, env: Mapping[str, str]) -> int:
    """The role's processes (model worker) or threads (webhook worker): the environment's,
    else the model worker's default for this machine (worker.machine)."""
    if role == "webhook-worker":
        return env_int(env, "NEWSNLP_WEBHOOK_CONCURRENCY", DEFAULT_WEBHOOK_CONCURRENCY, minimum=1)
    return env_int(
        env, "NEWSNLP_WORKER_CONCURRENCY", machine.default_worker_concurrency(), minimum=1
    )


def launch_env(role: str, concurrency: int, env: Mapping[str, str]) -> dict[str, str]:
    """The environment to start the role with: a model worker's pool processes read
    NEWSNLP_WORKER_CONCURRENCY to share the cores (worker.runtime), so it is set to the
    processes the command line starts, the default included."""
    out = dict(env)
    if role == "worker":
        out["NEWSNLP_WORKER_CONCURRENCY"] = str(concurrency)
    return out


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


def exec_worker(role: str, celery: str = "celery") -> None:
    """Replace this process with the worker of `role` (`exec`: signals reach it)."""
    count = concurrency(role, os.environ)
    args = worker_command(role, concurrency=count, celery=celery)
    os.execvpe(args[0], args, launch_env(role, count, os.environ))


def main(argv: Sequence[str]) -> None:
    if len(argv) != 1 or argv[0] not in ROLES:
        sys.exit(f"usage: python -m worker.command {{{','.join(ROLES)}}}")
    exec_worker(argv[0])


if __name__ == "__main__":
    main(sys.argv[1:])
