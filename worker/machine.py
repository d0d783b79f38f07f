"""The machine a worker starts on, as its cgroup lets it see it, and the worker's default
concurrency drawn from it.

On 2 cores, one process per core beats one process using both (`make bench`: 2 processes x
1 thread against 1 x 2, in every run; torch's intra-op threads meet thousands of times an
article and a thread that loses its core stalls the others). Each pool process loads the
models (~490-600 MB RSS measured), so the default is one process per core while memory
allows, and never fewer than one. A container sees the host's cores and memory in /proc:
its cgroup's CPU quota and memory limit are what it may use, so they cap both.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

# A pool process with the default models, measured at its peak (make bench), rounded up.
PROCESS_MB = 600
# Celery's main process (no models) and the machine's own slack.
MAIN_MB = 250

CGROUP = Path("/sys/fs/cgroup")


def _read(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def cores(cgroup: Path = CGROUP) -> int:
    """The cores this process may run on: its affinity, capped by a cgroup v2 CPU quota."""
    count = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    count = count or 1
    quota = _read(cgroup / "cpu.max")  # "max 100000" or "200000 100000"
    if quota:
        limit, _, period = quota.partition(" ")
        if limit != "max" and period:
            count = min(count, max(1, math.floor(int(limit) / int(period))))
    return count


def memory_mb(cgroup: Path = CGROUP, meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory this process may still take, in MB: the machine's available memory, capped by
    what a cgroup v2 limit leaves; None where neither can be read."""
    available = None
    for line in (_read(meminfo) or "").splitlines():
        if line.startswith("MemAvailable:"):
            available = int(line.split()[1]) // 1024
    limit, used = _read(cgroup / "memory.max"), _read(cgroup / "memory.current")
    if limit and limit != "max" and used:
        left = (int(limit) - int(used)) // (1024 * 1024)
        available = left if available is None else min(available, left)
    return available


def default_concurrency(cores: int, memory_mb: int | None) -> int:
    """Pool processes of a model worker: one a core while memory allows PROCESS_MB each."""
    if memory_mb is None:
        return max(1, cores)
    return max(1, min(cores, (memory_mb - MAIN_MB) // PROCESS_MB))


def default_worker_concurrency() -> int:
    """The default of NEWSNLP_WORKER_CONCURRENCY on the machine this runs on."""
    return default_concurrency(cores(), memory_mb())
