"""wrk for `make bench-api`: a fixed-rate POST run (wrk_post.lua) and its figures, per run
and over rounds."""

from __future__ import annotations

import shutil
import statistics
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.figures import nearest_rank

SCRIPT = Path(__file__).with_name("wrk_post.lua")


def find_wrk() -> str:
    found = shutil.which("wrk")
    if not found:
        raise FileNotFoundError("wrk not found: `apt-get install -y wrk` (make bench-api does)")
    return found


def parse_wrk(output: str) -> dict[str, Any]:
    line = next((x for x in output.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output[-2000:]}")
    values = [int(float(v)) for v in line.split()[1:]]
    (requests, duration_us, connect, read, write, status, timeout,
     p50_us, p99_us, max_us, unexpected) = values  # fmt: skip
    return {
        "requests": requests,
        "seconds": round(duration_us / 1e6, 2),
        "rate_per_s": round(requests / (duration_us / 1e6), 1) if duration_us else 0.0,
        "errors": {
            "connect": connect,
            "read": read,
            "write": write,
            "status": status,
            "timeout": timeout,
            "not_202": unexpected,
        },  # fmt: skip
        "p50_ms": round(p50_us / 1000, 2),
        "p99_ms": round(p99_us / 1000, 2),
        "max_ms": round(max_us / 1000, 2),
    }


def combine_rounds(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One app's rounds: requests, seconds and errors added up; p50 and p99 the median of
    the rounds' (wrk gives percentiles, not the latencies), max the largest."""
    errors = {key: sum(r["errors"][key] for r in runs) for key in runs[0]["errors"]}
    seconds = sum(r["seconds"] for r in runs)
    requests = sum(r["requests"] for r in runs)
    return {
        "requests": requests,
        "seconds": round(seconds, 2),
        "rate_per_s": round(requests / seconds, 1) if seconds else 0.0,
        "errors": errors,
        "p50_ms": statistics.median(r["p50_ms"] for r in runs),
        "p99_ms": statistics.median(r["p99_ms"] for r in runs),
        "max_ms": max(r["max_ms"] for r in runs),
        **(
            {"cpu_ms_per_request": round(sum(r["cpu_s"] for r in runs) / requests * 1000, 3)}
            if requests and all("cpu_s" in r for r in runs)
            else {}
        ),
        "rounds": list(runs),
    }


def p99_ratios(runs: Sequence[dict[str, Any]], bare: Sequence[dict[str, Any]]) -> list[float]:
    """Each round's p99 against the bare app's in the same round."""
    return [a["p99_ms"] / b["p99_ms"] for a, b in zip(runs, bare, strict=True)]


def failures(figures: dict[str, Any]) -> int:
    return int(sum(figures["errors"].values()))


def run_wrk(
    url: str, body_path: Path, rate: int, seconds: int, connections: int, work: Path
) -> dict[str, Any]:
    script = work / f"post-{rate}.lua"
    lua = SCRIPT.read_text(encoding="utf-8")
    script.write_text(
        lua.replace("{body_path}", str(body_path)).replace("{rate}", str(rate)), encoding="utf-8"
    )
    args = [
        find_wrk(), "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
        "-s", str(script), f"{url}/v1/jobs",
    ]  # fmt: skip
    result = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60)
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed ({result.returncode}): {result.stderr[-2000:]}")
    return parse_wrk(result.stdout)


def percentiles_ms(samples: Sequence[float]) -> dict[str, float]:
    """p50, p99 and max of latencies in seconds, in ms (nearest rank, as wrk reports)."""
    return {
        "p50_ms": round(nearest_rank(samples, 0.5) * 1000, 2),
        "p99_ms": round(nearest_rank(samples, 0.99) * 1000, 2),
        "max_ms": round(max(samples) * 1000, 2),
    }
