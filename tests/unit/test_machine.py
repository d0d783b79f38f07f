"""The worker's default concurrency: one pool process a core while memory allows each one."""

from pathlib import Path

from worker import machine
from worker.command import concurrency, launch_env
from worker.machine import MAIN_MB, PROCESS_MB, cores, default_concurrency, memory_mb


def test_one_process_a_core_while_memory_allows_each():
    assert default_concurrency(2, 21_000) == 2
    assert default_concurrency(8, MAIN_MB + 3 * PROCESS_MB) == 3  # memory caps it
    assert default_concurrency(4, 300) == 1  # never fewer than one
    assert default_concurrency(3, None) == 3  # memory unknown: the cores


def test_a_cgroup_cpu_quota_caps_the_cores(tmp_path: Path):
    (tmp_path / "cpu.max").write_text("100000 100000\n")
    assert cores(tmp_path) == 1
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert cores(tmp_path) == cores(tmp_path / "none")  # no quota: the affinity's


def test_a_cgroup_memory_limit_caps_the_available_memory(tmp_path: Path):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal: 33554432 kB\nMemAvailable: 16777216 kB\n")
    assert memory_mb(tmp_path, meminfo) == 16_384
    (tmp_path / "memory.max").write_text(str(2048 * 2**20))
    (tmp_path / "memory.current").write_text(str(48 * 2**20))
    assert memory_mb(tmp_path, meminfo) == 2_000


def test_the_environment_wins_and_the_pool_processes_are_told_the_count(monkeypatch):
    monkeypatch.setattr(machine, "default_worker_concurrency", lambda: 5)
    assert concurrency("worker", {}) == 5
    assert concurrency("worker", {"NEWSNLP_WORKER_CONCURRENCY": "3"}) == 3
    env = launch_env("worker", 5, {"REDIS_URL": "redis://x"})
    assert env == {"REDIS_URL": "redis://x", "NEWSNLP_WORKER_CONCURRENCY": "5"}
    assert "NEWSNLP_WORKER_CONCURRENCY" not in launch_env("webhook-worker", 8, {})
