"""`make bench-api`: latency of POST /v1/jobs under a fixed request rate, against a bare app.

    python -m bench.api_latency [--rate 200] [--seconds 30] [--rounds 3]

wrk (bench/wrk.py) POSTs the reference article at a fixed rate, in rounds that alternate
between the API, a bare Flask app that only answers 202, and a same-work control (the bare
app plus a pure-Python loop sized to the POST's CPU per request); each under the same
gunicorn flags, no worker running. Prints p50/p99 and CPU ms per request of each (medians of
the rounds'), and ends with `api p99 ratio (POST /v1/jobs vs bare): x.xx`; fails when any
request failed. Figures go to var/bench/api.json; method and results in docs/bench.md.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.wrk import combine_rounds, failures, find_wrk, p99_ratios, percentiles_ms, run_wrk

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
TARGET_RATIO = 1.5
APPS = ("bare", "api", "control")
SIZING_SECONDS = 5

WORK_ITERATIONS_ENV = "NEWSNLP_BENCH_WORK_ITERATIONS"


def spin(iterations: int) -> int:
    """Pure-Python work: the same instructions for the same count, however fast they run."""
    total = 0
    for i in range(iterations):
        total += i
    return total


def iterations_per_ms(iterations: int = 200_000, tries: int = 7) -> float:
    """How many `spin` iterations run in a millisecond: the fastest of `tries` timings, the
    one least slowed by the rest of the machine."""
    best = float("inf")
    for _ in range(tries):
        start = time.perf_counter()
        spin(iterations)
        best = min(best, time.perf_counter() - start)
    return iterations / (best * 1000)


def bare_app(work_iterations: int = 0) -> Any:
    """A Flask app that answers POST /v1/jobs with 202 and nothing else: the floor. With
    `work_iterations`, each POST first runs that much of `spin`."""
    from flask import Flask, request

    app = Flask("newsnlp-bare")

    @app.post("/v1/jobs")
    def create() -> tuple[dict[str, str], int]:
        request.get_data()  # read the body, as any endpoint must
        spin(work_iterations)
        return {"id": "0" * 32, "status": "queued"}, 202

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def control_app() -> Any:
    """The same-work control: the bare app with `NEWSNLP_BENCH_WORK_ITERATIONS` of work."""
    return bare_app(int(os.environ[WORK_ITERATIONS_ENV]))


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the processes have used, from /proc (clock ticks, 10 ms here)."""
    from devstack.processes import stat_fields

    ticks = 0
    for pid in pids:
        fields = stat_fields(pid)
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def per_request_cpu_ms(figures: dict[str, Any]) -> float:
    return figures["cpu_s"] / figures["requests"] * 1000 if figures["requests"] else 0.0


def redis_round_trips(
    redis_url: str, payload: dict[str, Any], rate: int, seconds: float
) -> dict[str, Any]:
    """One client records `payload` as a job `rate` times a second, as a POST does (the same
    Lua script, a queue message of the same size), and times each round trip; the figures
    have the shape of `parse_wrk`'s, so that `combine_rounds` adds up rounds of both."""
    import redis

    from jobs.records import request_payload
    from jobs.store import JobStore

    # Records of their own, which expire like the bench's jobs (NEWSNLP_JOB_TTL_SECONDS=600).
    store = JobStore(
        redis.Redis.from_url(redis_url),
        ttl_seconds=600,
        pending_ttl_seconds=600,
        prefix="newsnlp:bench-floor:",
        # Its jobs never end (no worker): the queue caps would refuse them after 10,000.
        max_queued_jobs=10**9,
        max_queued_bytes=2**62,
    )
    # A POST's queue message carries the job id, not the article: ~1 kB with Celery's headers.
    message = "m" * 1000
    count = int(rate * seconds)
    latencies = []
    start = time.perf_counter()
    for i in range(count):
        # The same schedule as wrk's: send times 1/rate apart, never two at once.
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        sent = time.perf_counter()
        store.create(uuid.uuid4().hex, payload, enqueue=("newsnlp:bench-floor-queue", message))
        latencies.append(time.perf_counter() - sent)
    seconds_taken = time.perf_counter() - start
    store.client.delete("newsnlp:bench-floor-queue")
    store.client.close()  # a client a round: its connection goes with it
    return {
        "requests": count,
        "seconds": round(seconds_taken, 2),
        "rate_per_s": round(count / seconds_taken, 1) if seconds_taken else 0.0,
        "errors": {},  # a failed write raises
        "bytes": len(request_payload(payload)) + len(message),
        **percentiles_ms(latencies),
    }


def reference_payload() -> dict[str, Any]:
    from bench.corpus import build_corpus, data_dir

    articles, _ = build_corpus(data_dir(), limit=0)
    (reference,) = articles
    return reference.payload()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=200, help="requests per second")
    parser.add_argument("--seconds", type=int, default=30)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=3, help="rotations of the apps")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "api.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    from bench.machine import describe_machine
    from devstack.local_redis import LocalRedis, free_port
    from devstack.processes import ApiProcess, descendants, fresh_dir

    try:
        payload = reference_payload()
        find_wrk()
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    work = fresh_dir("bench", "api")
    body_path = work / "reference.json"
    body_path.write_text(json.dumps(payload), encoding="utf-8")

    started = datetime.now(UTC)
    server = LocalRedis(work / "redis")
    server.start()
    apps: dict[str, Any] = {}
    try:
        # No worker ends these jobs: the queue's caps (10,000 jobs by default) are raised for
        # this stack, or the later rounds would measure 503s.
        apps["api"] = ApiProcess(
            server.url, free_port(), work / "api.log", NEWSNLP_JOB_TTL_SECONDS="600",
            NEWSNLP_MAX_QUEUED_JOBS="10000000", NEWSNLP_MAX_QUEUED_BYTES=str(64 * 2**30),
        ).start()  # fmt: skip
        apps["bare"] = ApiProcess(
            server.url, free_port(), work / "bare.log", target="bench.api_latency:bare_app()"
        ).start()

        def measured_run(name: str, seconds: int) -> dict[str, Any]:
            """One wrk run against an app, with the CPU its gunicorn workers used meanwhile."""
            workers = descendants(apps[name].process.pid)
            before = cpu_seconds(workers)
            figures = run_wrk(apps[name].url, body_path, args.rate, seconds, args.connections, work)
            figures["cpu_s"] = round(cpu_seconds(workers) - before, 3)
            return figures

        for name in ("bare", "api"):
            run_wrk(apps[name].url, body_path, args.rate, 3, args.connections, work)  # warm-up
        # The control's work: the POST's CPU per request beyond the bare app's, in iterations.
        sizing = {name: measured_run(name, SIZING_SECONDS) for name in ("bare", "api")}
        extra_ms = max(0.0, per_request_cpu_ms(sizing["api"]) - per_request_cpu_ms(sizing["bare"]))
        work_iterations = round(extra_ms * iterations_per_ms())
        apps["control"] = ApiProcess(
            server.url, free_port(), work / "control.log",
            target="bench.api_latency:control_app()",
            **{WORK_ITERATIONS_ENV: str(work_iterations)},
        ).start()  # fmt: skip
        run_wrk(apps["control"].url, body_path, args.rate, 3, args.connections, work)  # warm-up
        # Short runs rotating between the apps (the order reversed every other round), so that
        # the machine's drift falls on all alike.
        seconds = max(1, args.seconds // args.rounds)
        rounds: dict[str, list[dict[str, Any]]] = {name: [] for name in APPS}
        rounds["redis"] = []
        for r in range(args.rounds):
            for name in APPS if r % 2 == 0 else tuple(reversed(APPS)):
                logger.info("round %d %s: %d requests/s for %d s", r + 1, name, args.rate, seconds)
                rounds[name].append(measured_run(name, seconds))
            rounds["redis"].append(redis_round_trips(server.url, payload, args.rate, seconds))
    finally:
        for process in apps.values():
            process.stop()
        server.stop()

    results = {name: combine_rounds(runs) for name, runs in rounds.items()}
    round_ratios = p99_ratios(rounds["api"], rounds["bare"])
    control_ratios = p99_ratios(rounds["control"], rounds["bare"])
    ratio = statistics.median(round_ratios)
    figures = {
        "command": "python -m bench.api_latency",
        "started": started.isoformat(timespec="seconds"),
        "duration_s": round((datetime.now(UTC) - started).total_seconds(), 1),
        "rate_per_s": args.rate,
        "seconds": seconds * args.rounds,
        "rounds": args.rounds,
        "connections": args.connections,
        "body_bytes": body_path.stat().st_size,
        "gunicorn": "2 workers (gevent), every app",
        "machine": describe_machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "bare": results["bare"],
        "api": results["api"],
        "control": results["control"],
        "redis_round_trip": results["redis"],
        "sizing": {
            name: {**sizing[name], "cpu_ms_per_request": round(per_request_cpu_ms(sizing[name]), 3)}
            for name in sizing
        },
        "control_work_iterations": work_iterations,
        "round_p99_ratios": [round(x, 3) for x in round_ratios],
        "control_round_p99_ratios": [round(x, 3) for x in control_ratios],
        "control_p99_ratio": round(statistics.median(control_ratios), 4),
        "p99_ratio": round(ratio, 4),
        "target": TARGET_RATIO,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    print(f"POST of the reference article ({figures['body_bytes']} bytes), {args.rate}/s, "
          f"{args.rounds} rounds of {seconds} s per app, wrk -t1 -c{args.connections}, "
          "127.0.0.1")  # fmt: skip
    print(f"{'endpoint':<34}{'requests':>9}{'rate/s':>8}{'failed':>7}"
          f"{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'cpu ms':>8}")  # fmt: skip
    for name, label in (
        ("bare", "bare Flask app (202 only)"),
        ("api", "POST /v1/jobs (record+enqueue)"),
        ("control", "same-work control (bare + loop)"),
        ("redis", "its Redis round trip alone"),
    ):
        r = results[name]
        cpu = f"{r['cpu_ms_per_request']:>8.2f}" if "cpu_ms_per_request" in r else f"{'':>8}"
        print(f"{label:<34}{r['requests']:>9}{r['rate_per_s']:>8.1f}{failures(r):>7}"
              f"{r['p50_ms']:>8.2f}{r['p99_ms']:>8.2f}{r['max_ms']:>8.2f}{cpu}")  # fmt: skip
    print(
        "cpu ms: the app's gunicorn workers' CPU time per request; the control's loop is "
        f"{work_iterations} iterations, sized to the POST's extra CPU over the bare app's"
    )
    print("p99 ratio of each round: " + ", ".join(f"{x:.2f}" for x in round_ratios))
    print(
        f"same-work control p99 ratio (vs bare): {figures['control_p99_ratio']:.2f} "
        f"(rounds: {', '.join(f'{x:.2f}' for x in control_ratios)})"
    )
    print(f"api p99 ratio (POST /v1/jobs vs bare): {ratio:.2f}")
    failed = sum(failures(results[name]) for name in APPS)
    if failed:
        print(f"FAILED: {failed} requests failed or did not answer 202", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
