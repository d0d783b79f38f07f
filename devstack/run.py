"""`make run`: Redis (embedded when REDIS_URL is unset), the API under gunicorn, one worker,
one webhook worker (README.md, Quick start, says what it prints and where its files go).

On Ctrl-C or SIGTERM it stops each process's whole group (no orphans), Redis last.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from devstack.local_redis import LocalRedis
from devstack.processes import REPO_ROOT, answers_200, gunicorn_command, signal_group, spawn
from jobs.env import env_int, env_str
from worker.command import concurrency as worker_concurrency
from worker.command import launch_env, worker_command

logger = logging.getLogger("newsnlp.run")


class Stack:
    def __init__(self) -> None:
        self.children: list[tuple[str, subprocess.Popen[bytes]]] = []
        self.redis: LocalRedis | None = None
        self.stopping = False

    def spawn(self, name: str, args: list[str], env: dict[str, str]) -> None:
        process = spawn(args, env, None)
        logger.info("started %s (pid %s)", name, process.pid)
        self.children.append((name, process))

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping = True
        for name, process in reversed(self.children):
            if process.poll() is None:
                logger.info("stopping %s", name)
                signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name, process in self.children:
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop in time: killing it", name)
            # Whatever is left in the group (a worker's child processes) goes too.
            signal_group(process, signal.SIGKILL)
        if self.redis is not None:
            logger.info("stopping redis")
            self.redis.stop()

    def first_exited(self) -> tuple[str, int] | None:
        for name, process in self.children:
            if process.poll() is not None:
                return name, process.returncode
        return None


def _wait_http(url: str, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answers_200(url):
            return True
        time.sleep(0.2)
    return False


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s run %(levelname)s %(message)s")
    env = dict(os.environ)
    host = env_str(env, "NEWSNLP_HOST", "127.0.0.1") or "127.0.0.1"
    port = env_int(env, "NEWSNLP_PORT", 8000, minimum=1, maximum=65535)
    api_workers = env_int(env, "NEWSNLP_API_WORKERS", 2, minimum=1)

    stack = Stack()
    # The run's own folder: gunicorn's control socket (by default in the user's home, shared
    # by every stack on the machine).
    run_dir = Path(env.get("NEWSNLP_RUN_DIR") or REPO_ROOT / "var" / "run" / str(os.getpid()))
    run_dir.mkdir(parents=True, exist_ok=True)

    def on_signal(signum: int, _frame: object) -> None:
        # Once: `make` forwards a SIGTERM while Ctrl-C sends SIGINT to the whole group, and a
        # second KeyboardInterrupt raised while stopping would end in a traceback.
        if not stack.stopping:
            stack.stopping = True
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not env.get("REDIS_URL"):
            data_dir = Path(env.get("NEWSNLP_REDIS_DIR", REPO_ROOT / "var" / "redis" / "run"))
            # fsync on every write: a job that got its 202 survives even a crash of Redis.
            stack.redis = LocalRedis(
                data_dir, port=env_int(env, "NEWSNLP_REDIS_PORT", 0) or None, fsync="always"
            )
            env["REDIS_URL"] = stack.redis.start()
            logger.info("embedded redis at %s (data in %s)", env["REDIS_URL"], data_dir)
        for role, node in (("worker", "newsnlp"), ("webhook-worker", "newsnlp-webhooks")):
            count = worker_concurrency(role, env)
            command = worker_command(
                role,
                concurrency=count,
                hostname=f"{node}-{os.getpid()}@%h",
                celery=str(Path(sys.executable).parent / "celery"),
            )
            stack.spawn(role, command, launch_env(role, count, env))
        api = gunicorn_command(
            f"{host}:{port}", api_workers, run_dir / "gunicorn.ctl",
            "--graceful-timeout", "10", "--access-logfile", "-",
        )  # fmt: skip
        stack.spawn("api", api, env)
        url = f"http://{host}:{port}"
        if not _wait_http(url + "/healthz", 30):
            logger.error("the API did not come up on %s", url)
            return 1
        # Ready when a worker's heartbeat is in Redis (the API's /readyz): else say so.
        worker_ready = _wait_http(url + "/readyz", 0.5)
        loading = "" if worker_ready else "; the worker is still loading: jobs wait until it is"
        print(f"newsnlp is serving on {url}{loading}  (Ctrl-C stops it)", flush=True)
        while True:
            exited = stack.first_exited()
            if exited is not None:
                logger.error("%s exited with code %s: stopping", *exited)
                return 1
            if not worker_ready and answers_200(url + "/readyz"):
                worker_ready = True
                print("newsnlp's worker is ready: jobs run now", flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        logger.info("shutting down")
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()
        (run_dir / "gunicorn.ctl").unlink(missing_ok=True)
        if "NEWSNLP_RUN_DIR" not in env:
            shutil.rmtree(run_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
