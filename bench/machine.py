"""What the machine itself gives: one busy process against two, with no service around them.

    python -m bench.machine [--pairs 8] [--seconds 1]

The worker-scaling figure of `make bench` (2 worker processes against 1) can only be as good
as the machine's own: two vCPUs that are one physical core's two hyperthreads on the host, or
that share it with a busy neighbour, give two processes much less than twice one. This runs a
fixed piece of work in one process for `seconds`, then in two processes at once, `pairs`
times, and prints each pair's ratio (work done by two / by one): for a pure-Python loop, and
for the encoder's kind of work (a bfloat16 matrix product of the dense layers' shape, one
torch thread). Figures go to var/bench/machine.json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench.corpus import cores

REPO_ROOT = Path(__file__).resolve().parent.parent
KINDS = ("python loop", "bf16 matmul 256x384 @ 384x1536")


def describe_machine() -> dict[str, Any]:
    """The CPU, cores, memory, versions and load, as each benchmark's figures record them."""
    model = ""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            if line.startswith(("flags", "Features")) and not flags:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    import torch

    return {
        "cpu": model or platform.processor(),
        # The CPU's native bfloat16 (the encoder's default dtype follows it); with AMX,
        # oneDNN compiles its kernels per shape.
        "cpu_bf16": sorted(flags & {"avx512_bf16", "amx_bf16", "bf16"}),
        "cores": cores(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def _work(kind: str) -> Callable[[], object]:
    if kind == KINDS[0]:

        def loop() -> int:
            total = 0
            for i in range(20_000):
                total += i * i
            return total

        return loop
    import torch

    torch.set_num_threads(1)
    a = torch.randn(256, 384, dtype=torch.bfloat16)
    b = torch.randn(384, 1536, dtype=torch.bfloat16)
    return lambda: torch.mm(a, b)


def _serve(kind: str, connection: Any) -> None:
    """A process that, told (start time, seconds), does units of work then and counts them."""
    work = _work(kind)
    for _ in range(20):  # warm: kernels compiled, caches filled
        work()
    connection.send("ready")
    while (order := connection.recv()) is not None:
        start_at, seconds = order
        while time.time() < start_at:  # the processes of a measurement start together
            time.sleep(0.0005)
        done = 0
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            work()
            done += 1
        connection.send(done)


class Processes:
    """Two processes ready to work, started once for all the measurements of a kind."""

    def __init__(self, kind: str) -> None:
        context = multiprocessing.get_context("spawn")
        self.connections = []
        self.processes = []
        for _ in range(2):
            ours, theirs = context.Pipe()
            process = context.Process(target=_serve, args=(kind, theirs), daemon=True)
            process.start()
            self.connections.append(ours)
            self.processes.append(process)
        for connection in self.connections:
            if not connection.poll(120) or connection.recv() != "ready":
                raise RuntimeError("a work process did not start")

    def count(self, busy: int, seconds: float) -> int:
        """Units of work done by `busy` of the processes at once in `seconds`, added up."""
        start_at = time.time() + 0.05
        for connection in self.connections[:busy]:
            connection.send((start_at, seconds))
        return sum(connection.recv() for connection in self.connections[:busy])

    def close(self) -> None:
        for connection in self.connections:
            connection.send(None)
        for process in self.processes:
            process.join(10)


def pair_ratios(counts: Sequence[tuple[int, int]]) -> list[float]:
    """Each pair's (one process, two processes) counts as two's work over one's."""
    return [two / one for one, two in counts if one > 0]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "machine.json")
    args = parser.parse_args(argv)
    figures: dict[str, Any] = {"machine": describe_machine(), "seconds": args.seconds, "kinds": {}}
    for kind in KINDS:
        processes = Processes(kind)
        try:
            counts = [
                (processes.count(1, args.seconds), processes.count(2, args.seconds))
                for _ in range(args.pairs)
            ]
        finally:
            processes.close()
        ratios = pair_ratios(counts)
        median = statistics.median(ratios)
        figures["kinds"][kind] = {
            "counts_one_two": counts,
            "ratios": [round(r, 3) for r in ratios],
            "median": round(median, 3),
        }
        print(f"{kind:<32} two processes / one: median {median:.2f}, "
              f"pairs " + " ".join(f"{r:.2f}" for r in ratios))  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
