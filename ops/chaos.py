"""`make chaos`: no accepted job is lost or written twice when workers crash, Redis restarts
or fails over, or a worker is cut off from Redis mid-job. Real processes, a real Redis, real HTTP.

1. kill -9 a worker's pool process while it runs a job, then kill -9 a whole worker
   (main and pool processes) while it holds a job, and start another worker.
2. stop Redis mid-load and start it again (append-only file, fsync always): the API
   answers 503 with Retry-After meanwhile; clients retry; workers reconnect by themselves.
3. a worker in a network namespace reaching Redis through a loopback relay loses its link
   mid-job: its job is redelivered after the visibility timeout and finishes elsewhere.
4. Redis filled to its `maxmemory` (`noeviction`) mid-load, then freed: the API answers
   503 + Retry-After meanwhile (clients retry), the workers keep running and retry.
5. Redis Sentinel (ops.failover): a primary, its replica and three sentinels; the primary
   SIGKILLed mid-load, the replica promoted, the API and two workers follow it; prints the
   time from the kill to the first job finished on the new primary.

`--steps 2,5` runs some of them only.

Prints each step's figures, then one line:
`chaos: N jobs accepted, N finished, 0 lost, 0 duplicated`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import redis
import requests

from devstack.local_redis import LocalRedis, fill_to_maxmemory, free_filler, free_port
from devstack.processes import REPO_ROOT, ApiProcess, WorkerProcess, alive, descendants
from ops.failover import step_failover
from ops.ledger import (
    HARD_LIMIT,
    SOFT_LIMIT,
    VISIBILITY,
    WORKER_ENV,
    Ledger,
    corpus,
    report,
    submit_many,
    wait_all_ended,
)

ALL_STEPS = (1, 2, 3, 4, 5)


def wait_log(worker: WorkerProcess, needle: str, after: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in worker.read_log()[after:]:
            return True
        time.sleep(0.05)
    return False


def netns_available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "not root"
    if shutil.which("ip") is None:
        return "no `ip` command (iproute2)"
    probe = subprocess.run(["ip", "netns", "add", "newsnlp-probe"], capture_output=True)
    if probe.returncode != 0:
        return probe.stderr.decode(errors="replace").strip() or "ip netns add failed"
    subprocess.run(["ip", "netns", "del", "newsnlp-probe"], capture_output=True)
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=200, help="jobs per step")
    parser.add_argument(
        "--steps", default=",".join(map(str, ALL_STEPS)), help="the steps to run, e.g. 2,5"
    )
    args = parser.parse_args()
    steps = {int(step) for step in args.steps.split(",")}
    work = REPO_ROOT / "var" / "chaos"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    ledger = Ledger()
    print(f"chaos run: {args.jobs} jobs a step, visibility timeout {VISIBILITY} s, "
          f"time limits {SOFT_LIMIT}/{HARD_LIMIT} s, redis appendfsync always",
          flush=True)  # fmt: skip
    results = []
    if steps & {1, 2, 3, 4}:
        results += one_redis_steps(args.jobs, steps, work, ledger)
    if 5 in steps:
        results.append(step_failover(args.jobs, work, ledger, "5 redis primary killed, failover"))

    accepted = sum(r["accepted"] for r in results)
    finished = sum(r["finished"] for r in results)
    lost = sum(r["lost"] for r in results)
    duplicated = sum(r["duplicated"] for r in results)
    print(f"chaos: {accepted} jobs accepted, {finished} finished, {lost} lost, "
          f"{duplicated} duplicated", flush=True)  # fmt: skip
    return 0 if lost == 0 and duplicated == 0 and finished == accepted else 1


def one_redis_steps(n: int, steps: set[int], work: Path, ledger: Ledger) -> list[dict]:
    """Steps 1 to 4, on one Redis, its API and workers; their reports."""
    socket_path = work / "redis.sock"
    server = LocalRedis(work / "redis", fsync="always", unix_socket=socket_path)
    server.start()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=2, socket_timeout=5)
    api = ApiProcess(server.url, free_port(), work / "api.log").start()
    workers = [
        WorkerProcess(server.url, work / f"w{i}.log", name=f"w{i}", **WORKER_ENV).start()
        for i in (1, 2)
    ]
    results = []
    try:
        # -- step 1: crashed workers --------------------------------------------------------
        if 1 in steps:
            t0 = time.monotonic()
            before = len(ledger.accepted)
            marks = [len(w.read_log()) for w in workers]
            feeder = threading.Thread(
                target=submit_many, args=(api.url, corpus(n), ledger), daemon=True
            )
            feeder.start()
            notes = []
            w1, w2 = workers
            if wait_log(w2, '"message": "job ', marks[1], 60):
                pool = descendants(w2.process.pid)
                for pid in pool:
                    os.kill(pid, 9)
                notes.append(f"killed pool process(es) {pool} of w2 mid-job")
            if wait_log(w1, "started", marks[0], 60):
                w1.kill()
                notes.append("killed all of w1 mid-job")
                workers.append(
                    WorkerProcess(server.url, work / "w3.log", name="w3", **WORKER_ENV).start()
                )
                notes.append("started w3")
            feeder.join()
            ids = ledger.accepted[before:]
            final = wait_all_ended(client, ids, timeout=VISIBILITY + 120)
            results.append(report("1 worker crashes (kill -9)", ids, final, t0, "; ".join(notes)))

        # -- step 2: Redis restart ------------------------------------------------------------
        if 2 in steps:
            t0 = time.monotonic()
            before, refused_before = len(ledger.accepted), ledger.refused_503
            feeder = threading.Thread(
                target=submit_many, args=(api.url, corpus(n), ledger, 4, 10.0), daemon=True
            )
            feeder.start()
            time.sleep(2.0)
            server.stop()  # SHUTDOWN on SIGTERM: the append-only file is flushed
            down_for = 5.0
            time.sleep(down_for)
            server.start()
            feeder.join()
            ids = ledger.accepted[before:]
            final = wait_all_ended(client, ids, timeout=VISIBILITY + 120)
            results.append(
                report("2 redis stopped and restarted", ids, final, t0,
                       f"down {down_for:.0f} s; {ledger.refused_503 - refused_before} POSTs "
                       "answered 503 + Retry-After (then retried)")
            )  # fmt: skip

        # -- step 3: a worker cut off from Redis mid-job ----------------------------------
        if 3 in steps:
            why_not = netns_available()
            if why_not is not None:
                print(f"3 worker cut off from redis         SKIPPED: cannot create a network "
                      f"namespace here ({why_not})", flush=True)  # fmt: skip
            else:
                results.append(step_cut_off(n, server, client, api, work, ledger))

        if 4 in steps:
            results.append(step_redis_full(n, client, api, workers, ledger))
    finally:
        for w in workers:
            w.stop()
        api.stop()
        server.stop()
        client.close()
    return results


def step_redis_full(
    n: int, client: redis.Redis, api: ApiProcess, workers: list[WorkerProcess], ledger: Ledger
) -> dict:
    t0 = time.monotonic()
    live = [w for w in workers if w.process is not None and w.process.poll() is None]
    before, refused_before = len(ledger.accepted), ledger.refused_503
    feeder = threading.Thread(
        target=submit_many, args=(api.url, corpus(n), ledger, 4, 10.0), daemon=True
    )
    feeder.start()
    time.sleep(2.0)
    keys = fill_to_maxmemory(client)
    full_for = 5.0
    time.sleep(full_for)
    ready = requests.get(f"{api.url}/readyz", timeout=5)
    free_filler(client, keys)
    feeder.join()
    ids = ledger.accepted[before:]
    final = wait_all_ended(client, ids, timeout=VISIBILITY + 120)
    survived = sum(1 for w in live if w.process is not None and w.process.poll() is None)
    return report("4 redis full (maxmemory), freed", ids, final, t0,
                  f"full {full_for:.0f} s; {ledger.refused_503 - refused_before} POSTs answered "
                  f"503 + Retry-After (then retried); /readyz {ready.status_code} while full; "
                  f"workers alive {survived}/{len(live)}")  # fmt: skip


def step_cut_off(
    n: int, server: LocalRedis, client: redis.Redis, api: ApiProcess, work: Path, ledger: Ledger
) -> dict:
    t0 = time.monotonic()
    ns = f"newsnlp-chaos-{os.getpid()}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    relay = None
    cut = None
    try:
        subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"], check=True)
        port = free_port()
        relay = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-m", "devstack.unix_relay", str(port),
             str(server.unix_socket)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, start_new_session=True,
        )  # fmt: skip
        assert relay.stdout is not None and b"relay ready" in relay.stdout.readline()
        cut = WorkerProcess(
            f"redis://127.0.0.1:{port}/0", work / "w-netns.log", name="w-netns",
            prefix=["ip", "netns", "exec", ns], **WORKER_ENV,
        ).start()  # fmt: skip
        mark = len(cut.read_log())
        before = len(ledger.accepted)
        feeder = threading.Thread(
            target=submit_many, args=(api.url, corpus(n), ledger), daemon=True
        )
        feeder.start()
        note = "the namespaced worker never took a job"
        if wait_log(cut, "started", mark, 60):
            subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "down"],
                           check=True)  # fmt: skip
            note = "link of the worker's namespace taken down mid-job"
        feeder.join()
        ids = ledger.accepted[before:]
        final = wait_all_ended(client, ids, timeout=VISIBILITY + 150)
        return report("3 worker cut off from redis", ids, final, t0, note)
    finally:
        if cut is not None:
            cut.kill()
            pids = descendants(cut.process.pid) if cut.process else []
            for pid in pids:
                if alive(pid):
                    os.kill(pid, 9)
        if relay is not None:
            os.killpg(relay.pid, 9)
            relay.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
