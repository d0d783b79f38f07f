"""A local Redis primary, its replica and three sentinels on free ports: the Sentinel
topology of the failover test and of `make chaos`.

The sentinels declare a primary down after `down_after_ms` without an answer and promote the
replica; a killed primary is started again as the new primary's replica (`restart_as_replica`), as
a restarted pod of a Sentinel chart does.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import redis

from devstack.local_redis import LocalRedis
from jobs.redis_target import DEFAULT_MASTER

logger = logging.getLogger(__name__)

QUORUM = 2


class LocalSentinel(LocalRedis):
    """One `redis-server sentinel.conf --sentinel` process watching `master`."""

    def __init__(
        self,
        data_dir: Path,
        master: str,
        primary_port: int,
        *,
        down_after_ms: int,
        failover_timeout_ms: int,
    ) -> None:
        super().__init__(data_dir)
        self.master = master
        self.primary_port = primary_port
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms

    @property
    def log_path(self) -> Path:
        return self.data_dir / "sentinel.log"

    def _args(self) -> list[str]:
        config = self.data_dir / "sentinel.conf"  # the sentinel rewrites it as it learns
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndaemonize no\ndir {self.data_dir}\n"
            f"logfile {self.log_path}\n"
            f"sentinel monitor {self.master} 127.0.0.1 {self.primary_port} {QUORUM}\n"
            f"sentinel down-after-milliseconds {self.master} {self.down_after_ms}\n"
            f"sentinel failover-timeout {self.master} {self.failover_timeout_ms}\n"
            f"sentinel parallel-syncs {self.master} 1\n"
        )
        return [str(config), "--sentinel"]


class SentinelStack:
    """A primary, one replica and three sentinels under `work_dir`."""

    def __init__(
        self,
        work_dir: Path,
        master: str = DEFAULT_MASTER,
        *,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        fsync: str = "everysec",
    ) -> None:
        self.work_dir = Path(work_dir)
        self.master = master
        primary = LocalRedis(self.work_dir / "redis-a", fsync=fsync)
        replica = LocalRedis(self.work_dir / "redis-b", fsync=fsync, replica_of=primary.port)
        self.nodes = [primary, replica]
        self.sentinels = [
            LocalSentinel(
                self.work_dir / f"sentinel-{i}",
                master,
                primary.port,
                down_after_ms=down_after_ms,
                failover_timeout_ms=failover_timeout_ms,
            )
            for i in (1, 2, 3)
        ]

    def start(self, timeout: float = 30.0) -> SentinelStack:
        for node in self.nodes:
            node.start()
        deadline = time.monotonic() + timeout
        self.wait_replicated(deadline)
        for sentinel in self.sentinels:
            sentinel.start()
        # Ready when every sentinel knows the replica and the two other sentinels.
        while True:
            try:
                views = [s.client().sentinel_master(self.master) for s in self.sentinels]
                if all(
                    int(v["num-slaves"]) >= 1 and int(v["num-other-sentinels"]) >= 2 for v in views
                ):
                    logger.info("sentinels ready on %s", self.sentinel_setting)
                    return self
            except redis.exceptions.RedisError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError("the sentinels did not discover each other and the replica")
            time.sleep(0.1)

    @property
    def sentinel_setting(self) -> str:
        """NEWSNLP_REDIS_SENTINELS for this stack."""
        return ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)

    # REDIS_URL of the services on this stack: in Sentinel mode it gives only the database
    # (and a password, a user); a host that does not resolve shows if it were used.
    url = "redis://sentinel-managed/0"

    def env(self) -> dict[str, str]:
        """The settings, besides REDIS_URL (`url`), that point the API and the workers at
        this stack."""
        return {
            "NEWSNLP_REDIS_SENTINELS": self.sentinel_setting,
            "NEWSNLP_REDIS_MASTER": self.master,
        }

    def primary(self) -> LocalRedis:
        """The node a sentinel names as the primary now."""
        for sentinel in self.sentinels:
            try:
                _, port = sentinel.client().sentinel_get_master_addr_by_name(self.master)
            except (redis.exceptions.RedisError, TypeError):
                continue
            return next(node for node in self.nodes if node.port == int(port))
        raise RuntimeError("no sentinel answers")

    def wait_promoted(self, old: LocalRedis, timeout: float = 30.0) -> LocalRedis:
        """The node the sentinels promoted in place of `old`, once it takes writes."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                current = self.primary()
                if current is not old and current.client().info("replication")["role"] == "master":
                    return current
            except (RuntimeError, redis.exceptions.RedisError):
                pass
            time.sleep(0.05)
        raise TimeoutError(f"no replica promoted within {timeout} s")

    def restart_as_replica(self, node: LocalRedis) -> None:
        """Start a stopped node again as the current primary's replica (as a chart's pod
        asks the sentinels at its start), and wait until it has synced."""
        node.replica_of = self.primary().port
        node.start()
        self.wait_replicated(time.monotonic() + 30)

    def wait_replicated(self, deadline: float) -> None:
        """Until a replica of the current primary has its link up and has synced."""
        while True:
            for node in self.nodes:
                try:
                    info = node.client().info("replication")
                except redis.exceptions.RedisError:
                    continue
                if info.get("role") == "slave" and info.get("master_link_status") == "up":
                    return
            if time.monotonic() > deadline:
                raise TimeoutError("no replica in sync")
            time.sleep(0.05)

    def stop(self) -> None:
        for sentinel in self.sentinels:
            sentinel.stop()
        for node in self.nodes:
            node.stop()
