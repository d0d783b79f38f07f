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
5. Redis Sentinel (devstack.sentinel): a primary, its replica and three sentinels; the
   primary SIGKILLed mid-load, the replica promoted, the API and two workers follow it; the
   killed node comes back as the new primary's replica (a restarted pod of a Sentinel chart),
   so with NEWSNLP_REDIS_MIN_REPLICAS 1 the API refuses jobs (503) until it has synced.
   Prints the time from the kill to the first job finished on the new primary.

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
import time
from datetime import datetime
from pathlib import Path

import redis
import requests

from devstack.local_redis import LocalRedis, fill_to_maxmemory, free_filler, free_port
from devstack.processes import REPO_ROOT, ApiProcess, WorkerProcess, alive, fresh_dir
from devstack.sentinel import SentinelStack
from ops.ledger import (
    HARD_LIMIT,
    SOFT_LIMIT,
    VISIBILITY,
    WORKER_ENV,
    Ledger,
    feeding,
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
    work = fresh_dir("chaos")
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
            marks = [len(w.read_log()) for w in workers]
            notes = []
            w1, w2 = workers
            with feeding(api.url, n, ledger) as feed:
                if wait_log(w2, '"message": "job ', marks[1], 60):
                    pool = w2.child_pids()
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
            results.append(feed.report("1 worker crashes (kill -9)", client, "; ".join(notes)))

        # -- step 2: Redis restart ------------------------------------------------------------
        if 2 in steps:
            down_for = 5.0
            with feeding(api.url, n, ledger, spread=10.0) as feed:
                time.sleep(2.0)
                server.stop()  # SHUTDOWN on SIGTERM: the append-only file is flushed
                time.sleep(down_for)
                server.start()
            results.append(
                feed.report("2 redis stopped and restarted", client,
                            f"down {down_for:.0f} s; {feed.refused} POSTs answered 503 + "
                            "Retry-After (then retried)")
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
    live = [w for w in workers if w.alive()]
    full_for = 5.0
    with feeding(api.url, n, ledger, spread=10.0) as feed:
        time.sleep(2.0)
        keys = fill_to_maxmemory(client)
        time.sleep(full_for)
        ready = requests.get(f"{api.url}/readyz", timeout=5)
        free_filler(client, keys)
    survived = sum(1 for w in live if w.alive())
    return feed.report("4 redis full (maxmemory), freed", client,
                       f"full {full_for:.0f} s; {feed.refused} POSTs answered 503 + Retry-After "
                       f"(then retried); /readyz {ready.status_code} while full; "
                       f"workers alive {survived}/{len(live)}")  # fmt: skip


def step_cut_off(
    n: int, server: LocalRedis, client: redis.Redis, api: ApiProcess, work: Path, ledger: Ledger
) -> dict:
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
        note = "the namespaced worker never took a job"
        with feeding(api.url, n, ledger) as feed:
            if wait_log(cut, "started", mark, 60):
                subprocess.run(["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "down"],
                               check=True)  # fmt: skip
                note = "link of the worker's namespace taken down mid-job"
        return feed.report("3 worker cut off from redis", client, note, grace=150)
    finally:
        if cut is not None:
            cut.kill()
            for pid in cut.child_pids() if cut.process else []:
                if alive(pid):
                    os.kill(pid, 9)
        if relay is not None:
            os.killpg(relay.pid, 9)
            relay.wait()
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)


def step_failover(n: int, work: Path, ledger: Ledger, name: str) -> dict:
    """Submit `n` jobs, kill the primary two seconds in; the step's report."""
    stack = SentinelStack(work / "sentinel", fsync="always").start()
    api = ApiProcess(stack.url, free_port(), work / "api-sentinel.log", **stack.env())
    env = {**stack.env(), **WORKER_ENV}
    workers = [WorkerProcess(stack.url, work / f"ws{i}.log", name=f"ws{i}", **env) for i in (1, 2)]
    try:
        api.start()
        for worker in workers:
            worker.start()
        with feeding(api.url, n, ledger, spread=10.0) as feed:
            time.sleep(2.0)
            old = stack.primary()
            killed_at = time.time()
            old.kill()
            new = stack.wait_promoted(old, timeout=30)
            promoted_in = time.time() - killed_at
            stack.restart_as_replica(old)
        client = new.client()
        wait_all_ended(client, feed.ids, timeout=VISIBILITY + 120)
        recovered_in = first_end_after(client, feed.ids, killed_at) - killed_at
        survived = sum(1 for w in workers if w.alive())
        return feed.report(name, client,
                           f"promoted in {promoted_in:.1f} s; recovered in {recovered_in:.1f} s "
                           f"(kill to the first job finished on the new primary); "
                           f"{feed.refused} POSTs answered 503 + Retry-After "
                           f"(then retried); workers alive {survived}/2")  # fmt: skip
    finally:
        for worker in workers:
            worker.stop()
        api.stop()
        stack.stop()


def first_end_after(client: redis.Redis, ids: list[str], moment: float) -> float:
    """When the first of `ids` ended after `moment` (a Unix time), by its record: a record
    that ended after the kill was written on the new primary. NaN when none did."""
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hget(f"newsnlp:job:{job_id}", "finished_at")
    ends = [
        datetime.fromisoformat(raw.decode().replace("Z", "+00:00")).timestamp()
        for raw in pipe.execute()
        if raw
    ]
    return min((end for end in ends if end > moment), default=float("nan"))


if __name__ == "__main__":
    sys.exit(main())
