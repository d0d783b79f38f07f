"""`make load`: /healthz latency while many clients long-poll and a few send a byte a second.

    python -m bench.load [--waiters 500] [--slow 32] [--seconds 60]

Starts Redis, the API (gunicorn, `devstack.processes.ApiProcess`: 2 gevent workers) and
one worker. Each waiter POSTs a short job and then asks `GET /v1/jobs/<id>?wait=60` until the
job has ended (answered at once when its API process holds NEWSNLP_MAX_WAITS waits: it then
asks again a second later); a waiter is correct when it ends with the job `succeeded` and its
summary. Each slow client opens a connection and sends a request's headers a byte a second,
reconnecting when cut. A prober asks `/healthz` every 0.1 s (timeout 5 s: a timed-out probe
counts as 5,000 ms) for `seconds`, from when all waiters are waiting. Ends with the lines
`healthz p99 under load: X ms` and `waiters: N/M correct`.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import threading
import time
from collections import Counter
from typing import Any

import requests

from bench.figures import nearest_rank
from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess, WorkerProcess, fresh_dir
from jobs.contract import TERMINAL_STATUSES

PROBE_TIMEOUT = 5.0
TEXT = (
    "The council approved the budget on Monday after a long debate. Schools will get more "
    "money next year. Critics said the roads were ignored. A final vote follows in May."
)


def waiter(url: str, outcomes: list[str], started: threading.Barrier, stop: float) -> None:
    """Appends `correct`, or what went wrong."""
    session = requests.Session()
    outcome = "not ended in time"
    try:
        body = {"article": {"text": TEXT}, "tasks": ["summary"]}
        job_id = _call(session.post, f"{url}/v1/jobs", json=body, timeout=30)["id"]
        started.wait()
        while time.monotonic() < stop:
            asked = time.monotonic()
            job = _call(session.get, f"{url}/v1/jobs/{job_id}?wait=60", timeout=70)
            if job["status"] in TERMINAL_STATUSES:
                good = job["status"] == "succeeded" and bool(job["result"]["summary"]["text"])
                outcome = "correct" if good else f"ended {job['status']}"
                break
            if time.monotonic() - asked < 1.0:
                time.sleep(1.0)
    except (requests.RequestException, threading.BrokenBarrierError, KeyError, ValueError) as exc:
        outcome = type(exc).__name__
    outcomes.append(outcome)


RETRIES: list[int] = []


def _call(method: Any, url: str, **kwargs: Any) -> dict[str, Any]:
    """A request, again (at most 3 times) when the connection broke: a kept-alive one the
    server closed meanwhile, or a connect refused with a full listen queue."""
    for attempt in range(4):
        try:
            return method(url, **kwargs).json()  # type: ignore[no-any-return]
        except requests.ConnectionError:
            if attempt == 3:
                raise
            RETRIES.append(1)
            time.sleep(0.5)
    raise AssertionError("unreachable")


def slow_client(port: int, stop: float) -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000
    while time.monotonic() < stop:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                for byte in request:
                    if time.monotonic() >= stop:
                        return
                    sock.sendall(bytes([byte]))
                    time.sleep(1.0)
        except OSError:
            time.sleep(0.5)


def probe(url: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        try:
            requests.get(f"{url}/healthz", timeout=PROBE_TIMEOUT).raise_for_status()
            latencies.append((time.monotonic() - t0) * 1000)
        except requests.RequestException:
            latencies.append(PROBE_TIMEOUT * 1000)
        time.sleep(max(0.0, 0.1 - (time.monotonic() - t0)))
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--waiters", type=int, default=500)
    parser.add_argument("--slow", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    args = parser.parse_args(argv)
    work = fresh_dir("load")
    outcomes: list[str] = []
    with (
        LocalRedis(work / "redis") as server,
        ApiProcess(server.url, free_port(), work / "api.log") as api,
        WorkerProcess(server.url, work / "worker.log", name="load"),
    ):
        stop = time.monotonic() + args.seconds + 120
        started = threading.Barrier(args.waiters + 1)
        threads = [
            threading.Thread(target=waiter, args=(api.url, outcomes, started, stop), daemon=True)
            for _ in range(args.waiters)
        ]
        for thread in threads:
            thread.start()
        started.wait(timeout=120)
        slow_stop = time.monotonic() + args.seconds
        for _ in range(args.slow):
            threading.Thread(target=slow_client, args=(api.port, slow_stop), daemon=True).start()
        latencies = probe(api.url, args.seconds)
        for thread in threads:
            thread.join(timeout=max(1.0, stop - time.monotonic()))
    print(f"{args.waiters} waiters (?wait=60), {args.slow} clients sending a byte a second, "
          f"{len(latencies)} probes over {args.seconds:.0f} s", flush=True)  # fmt: skip
    print(
        f"healthz p50 {statistics.median(latencies):.1f} ms, "
        f"timed out {sum(1 for x in latencies if x >= PROBE_TIMEOUT * 1000)}",
        flush=True,
    )
    print(f"healthz p99 under load: {nearest_rank(latencies, 0.99):.1f} ms", flush=True)
    correct = outcomes.count("correct")
    wrong = Counter(o for o in outcomes if o != "correct")
    why = f" ({', '.join(f'{n}: {what}' for what, n in wrong.items())})" if wrong else ""
    print(f"waiters: {correct}/{args.waiters} correct{why}; {len(RETRIES)} requests "
          "sent again after a broken connection", flush=True)  # fmt: skip
    return 0 if correct == args.waiters else 1


if __name__ == "__main__":
    sys.exit(main())
