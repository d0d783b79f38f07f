"""Start and stop the real processes of the service: make run, the tests, chaos, benchmarks."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import IO, Self

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


def gunicorn_command(
    bind: str, workers: int, control_socket: Path, *options: str, target: str = "api:create_app()"
) -> list[str]:
    """The API (or another WSGI `target`) under gunicorn, as `make run` and the tests run it."""
    return [
        str(BIN / "gunicorn"), "--bind", bind, "--workers", str(workers), *GUNICORN_SERVER,
        # Its control socket of its own (by default one in the home, for every gunicorn).
        "--control-socket", str(control_socket), *options, target,
    ]  # fmt: skip


def service_env(**overrides: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update({"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"})
    env.update(overrides)
    return env


def fresh_dir(*parts: str) -> Path:
    """var/<parts> under the checkout, emptied: a tool run's own files."""
    path = REPO_ROOT.joinpath("var", *parts)
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def answers_200(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback
            return bool(response.status == 200)
    except OSError:  # refused, or an HTTP error (503 from /readyz: no live worker yet)
        return False


def spawn(args: list[str], env: dict[str, str], log: IO | None) -> subprocess.Popen[bytes]:
    """Start `args` in its own process group (so that it stops as a whole), logging to `log`
    (None: this process's own output)."""
    return subprocess.Popen(
        args, cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT if log else None,
        start_new_session=True,
    )  # fmt: skip


def signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def stop_group(
    process: subprocess.Popen[bytes], timeout: float, first: int = signal.SIGTERM
) -> bool:
    """Signal the process group (`first`), SIGKILL what is left after `timeout`; whether it
    stopped in time."""
    in_time = True
    if process.poll() is None:
        signal_group(process, first)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            in_time = False
    signal_group(process, signal.SIGKILL)  # what is left in the group (a worker's pool)
    process.wait()
    return in_time


class ServiceProcess:
    """A service process under test: started in its own group, logging to `log_path`."""

    stop_timeout = 15.0

    def __init__(self, log_path: Path, env: dict[str, str]) -> None:
        self.log_path = log_path
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> Self:
        raise NotImplementedError

    def _launch(
        self, what: str, args: list[str], ready: Callable[[], bool], timeout: float
    ) -> None:
        """Start `args` and wait until `ready()`; stopped and raising if it never is."""
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self.process = spawn(args, self.env, self.log)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"{what} exited early:\n{self.read_log()[-3000:]}")
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{what} not ready in {timeout} s:\n{self.read_log()[-3000:]}")

    def read_log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout: float | None = None, first: int = signal.SIGTERM) -> None:
        if self.process is not None and not self.log.closed:
            stop_group(self.process, self.stop_timeout if timeout is None else timeout, first)
            self.log.close()

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class WorkerProcess(ServiceProcess):
    """A real `celery worker` process of `role` (worker.command): the model worker on the
    newsnlp queue, or the webhook worker on newsnlp-webhooks."""

    stop_timeout = 20.0

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
        super().__init__(
            log_path, launch_env(role, concurrency, service_env(REDIS_URL=redis_url, **env))
        )
        self.role = role
        self.redis_url = redis_url
        self.name = name
        self.prefix = prefix or []
        self.concurrency = concurrency

    def start(self, timeout: float = 90.0) -> WorkerProcess:
        args = [*self.prefix, *worker_command(
            self.role, concurrency=self.concurrency, celery=str(BIN / "celery"),
            hostname=f"{self.name}-{os.getpid()}@%h",
            extra=["--without-mingle", "--without-gossip"],
        )]  # fmt: skip

        def ready() -> bool:
            log = self.read_log()
            return " ready." in log and ("models loaded" in log or not self.preloads_models)

        self._launch("worker", args, ready, timeout)
        return self

    @property
    def preloads_models(self) -> bool:
        """Whether the pool processes load the models at their start, not at a first job."""
        if self.role != "worker":
            return False  # the webhook worker loads none
        return env_bool(self.env, "NEWSNLP_PRELOAD_MODELS", True)  # as the worker reads it

    def child_pids(self) -> list[int]:
        assert self.process is not None
        return descendants(self.process.pid)

    def kill(self) -> None:
        """Crash the whole worker: SIGKILL to its process group (main and pool processes)."""
        self.stop(timeout=0, first=signal.SIGKILL)


def stat_fields(pid: int | str) -> list[str]:
    """The fields of /proc/<pid>/stat after the command name, the state first (the name may
    hold spaces and parentheses, so it ends at the last ")"). OSError once the process is gone."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def proc_mb(pid: int, field: str, table: str = "status") -> float:
    """A kB figure of /proc/<pid>/<table> (`VmHWM`, `VmRSS` of status; `Pss` of
    smaps_rollup) in MB; 0 once the process is gone."""
    try:
        for line in Path(f"/proc/{pid}/{table}").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


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


class ApiProcess(ServiceProcess):
    """The API (or another WSGI `target` with a /healthz route) under gunicorn on 127.0.0.1."""

    def __init__(
        self,
        redis_url: str,
        port: int,
        log_path: Path,
        workers: int = 2,
        target: str = "api:create_app()",
        **env: str,
    ) -> None:
        super().__init__(log_path, service_env(REDIS_URL=redis_url, **env))
        self.target = target
        self.url = f"http://127.0.0.1:{port}"
        self.port = port
        self.workers = workers

    def start(self, timeout: float = 30.0) -> ApiProcess:
        args = gunicorn_command(
            f"127.0.0.1:{self.port}", self.workers, self.log_path.with_suffix(".ctl"),
            "--graceful-timeout", "5",
            # As the image runs it: the workers' heartbeat files on tmpfs, not on a disk.
            *(["--worker-tmp-dir", "/dev/shm"] if Path("/dev/shm").is_dir() else []),
            target=self.target,
        )  # fmt: skip
        self._launch(self.target, args, lambda: answers_200(self.url + "/healthz"), timeout)
        return self
