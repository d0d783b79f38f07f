"""Start and stop the real processes of the service: for the tests, chaos and benchmarks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

from jobs.env import env_bool
from worker.command import launch_env, worker_command

REPO_ROOT = Path(__file__).resolve().parent.parent

BIN = Path(sys.executable).parent

# gunicorn's limits on a request's head, the same wherever the API runs (docker/entrypoint.sh
# has them too; tests/unit/test_docker.py compares): a request line up to 8190 bytes (its
# maximum; 4094 by default) reaches the app, whose errors are JSON; a longer one gets
# gunicorn's own 414, in JSON too (`api.server`).
GUNICORN_LIMITS = ["--limit-request-line", "8190"]
# How the API serves, the same wherever it runs: gevent workers (`api.server.ApiWorker`),
# each connection a greenlet (up to 1,000 a process), so long-polls and clients that send
# their request a byte a second wait without holding a thread that `/healthz` and everything
# else need; gunicorn's own refusals answered as JSON.
GUNICORN_SERVER = [
    "--worker-class", "api.server.ApiWorker", "--worker-connections", "1000", *GUNICORN_LIMITS,
]  # fmt: skip


def service_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def spawn(args: list[str], env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen, IO]:
    """Start `args` in its own process group (so that it stops as a whole), logging to a file."""
    log = open(log_path, "ab")  # noqa: SIM115 - the caller closes it with stop_group
    process = subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    return process, log


def stop_group(
    process: subprocess.Popen, log: IO, timeout: float, first: int = signal.SIGTERM
) -> None:
    """Signal the process group (`first`), SIGKILL what is left after `timeout`, close the log."""
    if process.poll() is None:
        os.killpg(process.pid, first)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.wait()
    log.close()


class WorkerProcess:
    """A real `celery worker` process of `role` (worker.command): the model worker on the
    newsnlp queue, or the webhook worker on newsnlp-webhooks."""

    def __init__(
        self,
        redis_url: str,
        log_path: Path,
        name: str = "w1",
        prefix: list[str] | None = None,
        concurrency: int = 1,
        role: str = "worker",
        **env: str,
    ) -> None:
        self.role = role
        self.redis_url = redis_url
        self.log_path = log_path
        self.name = name
        self.prefix = prefix or []
        self.concurrency = concurrency
        self.env = launch_env(role, concurrency, service_env(REDIS_URL=redis_url, **env))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        args = [*self.prefix, *worker_command(
            self.role, concurrency=self.concurrency, celery=str(BIN / "celery"),
            hostname=f"{self.name}-{os.getpid()}@%h",
            extra=["--without-mingle", "--without-gossip"],
        )]  # fmt: skip
        self.process, self.log = spawn(args, self.env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.read_log()[-3000:]}")
            log = self.read_log()
            if " ready." in log and ("models loaded" in log or not self.preloads_models):
                return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"worker not ready in {timeout} s:\n{self.read_log()[-3000:]}")

    @property
    def preloads_models(self) -> bool:
        """Whether the pool processes load the models at their start, not at a first job."""
        if self.role != "worker":
            return False  # the webhook worker loads none
        return env_bool(self.env, "NEWSNLP_PRELOAD_MODELS", True)  # as the worker reads it

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def child_pids(self) -> list[int]:
        assert self.process is not None
        return descendants(self.process.pid)

    def kill(self) -> None:
        """Crash the whole worker: SIGKILL to its process group (main and pool processes)."""
        assert self.process is not None
        stop_group(self.process, self.log, timeout=0, first=signal.SIGKILL)

    def stop(self, timeout: float = 20.0) -> None:
        if self.process is not None and not self.log.closed:
            stop_group(self.process, self.log, timeout)


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name, the state first (the name may
    hold spaces and parentheses, so it ends at the last ")"). OSError once the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def descendants(pid: int) -> list[int]:
    """All live descendants of `pid`, from /proc."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parents[int(entry.name)] = int(stat_fields(entry.name)[1])
        except OSError:
            continue
    found: list[int] = []
    frontier = [pid]
    while frontier:
        current = frontier.pop()
        children = [p for p, pp in parents.items() if pp == current]
        found.extend(children)
        frontier.extend(children)
    return found


def alive(pid: int) -> bool:
    try:
        return stat_fields(pid)[0] != "Z"
    except OSError:
        return False


class ApiProcess:
    """The API (or another WSGI `target` with a /healthz route) under gunicorn on 127.0.0.1."""

    def __init__(
        self,
        redis_url: str,
        port: int,
        log_path: Path,
        workers: int = 2,
        target: str = "api:create_app()",
        **env: str,
    ):
        self.target = target
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.workers = workers
        self.log_path = log_path
        self.env = service_env(REDIS_URL=redis_url, **env)
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> ApiProcess:
        import urllib.request

        args = [
            str(BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}",
            "--workers", str(self.workers), "--graceful-timeout", "5",
            *GUNICORN_SERVER,
            # As the image runs it: the workers' heartbeat files on tmpfs, not on a disk.
            *(["--worker-tmp-dir", "/dev/shm"] if Path("/dev/shm").is_dir() else []),
            # Its control socket of its own (by default one in the home, for every gunicorn).
            "--control-socket", str(self.log_path.with_suffix(".ctl")),
            self.target,
        ]  # fmt: skip
        self.process, self.log = spawn(args, self.env, self.log_path)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.log.close()
                raise RuntimeError(f"{self.target} exited early:\n{self.read_log()[-3000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.target} did not come up")

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None and not self.log.closed:
            stop_group(self.process, self.log, timeout)
