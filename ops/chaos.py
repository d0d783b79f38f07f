"""`make chaos`: no accepted job is lost or written twice when workers crash, Redis restarts
or a worker is cut off from Redis mid-job. Real processes, a real Redis, real HTTP.

1. kill -9 a worker's pool process while it runs a job, then kill -9 a whole worker
   (main and pool processes) while it holds a job, and start another worker.
2. stop Redis mid-load and start it again (append-only file, fsync always): the API
   answers 503 with Retry-After meanwhile; clients retry; workers reconnect by themselves.
3. a worker in a network namespace reaching Redis through a loopback relay loses its link
   mid-job: its job is redelivered after the visibility timeout and finishes elsewhere.
4. Redis filled to its `maxmemory` (`noeviction`) mid-load, then freed: the API answers
   503 + Retry-After meanwhile (clients retry), the workers keep running and retry.

Prints each step's figures, then one line:
`chaos: N jobs accepted, N finished, 0 lost, 0 duplicated`.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis
import requests

from devstack.local_redis import LocalRedis, fill_to_maxmemory, free_filler, free_port
from devstack.processes import REPO_ROOT, ApiProcess, WorkerProcess, alive, descendants

SOFT_LIMIT, HARD_LIMIT, VISIBILITY = 20, 25, 30
WORKER_ENV = {
    "NEWSNLP_TASK_SOFT_TIME_LIMIT": str(SOFT_LIMIT),
    "NEWSNLP_TASK_TIME_LIMIT": str(HARD_LIMIT),
    "NEWSNLP_VISIBILITY_TIMEOUT": str(VISIBILITY),
    "NEWSNLP_TORCH_THREADS": "1",
}
CLAIMS = ["The government denied the report", "Prices rose sharply last year"]


def corpus(n: int) -> list[str]:
    """Short articles from the CNN/DM sample when present, else generated prose."""
    data = Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))
    path = data / "cnndm" / "cnndm_test_250.jsonl"
    texts: list[str] = []
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            texts = [" ".join(json.loads(line)["article"].split()[:120]) for line in f]
    if not texts:
        texts = [
            f"Officials in city {i} approved a new budget on Monday. It raises school spending "
            f"by {i % 9 + 1} percent. Critics said roads were ignored. A vote follows in May."
            for i in range(50)
        ]
    return [texts[i % len(texts)] for i in range(n)]


@dataclass
class Ledger:
    """Every job the API accepted (202), across all steps."""

    accepted: list[str] = field(default_factory=list)
    refused_503: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def submit(api: str, text: str, ledger: Ledger, deadline: float) -> None:
    """POST one job, honouring 503 + Retry-After, until it is accepted or the deadline."""
    body = {"article": {"text": text}, "claims": CLAIMS}
    while time.monotonic() < deadline:
        try:
            response = requests.post(f"{api}/v1/jobs", json=body, timeout=10)
        except requests.RequestException:
            time.sleep(0.5)
            continue
        if response.status_code == 202:
            with ledger.lock:
                ledger.accepted.append(response.json()["id"])
            return
        if response.status_code == 503:
            with ledger.lock:
                ledger.refused_503 += 1
            assert "Retry-After" in response.headers, "503 without Retry-After"
            time.sleep(min(1.0, float(response.headers["Retry-After"])))
            continue
        raise RuntimeError(f"unexpected answer {response.status_code}: {response.text[:300]}")
    raise TimeoutError("a job could not be submitted before the deadline")


def submit_many(
    api: str, texts: list[str], ledger: Ledger, threads: int = 4, spread: float = 0.0
) -> None:
    """Submit `texts` from `threads` clients, paced over about `spread` seconds."""
    deadline = time.monotonic() + 120 + spread
    pause = spread * threads / max(1, len(texts))

    def client(chunk: list[str]) -> None:
        for text in chunk:
            submit(api, text, ledger, deadline)
            time.sleep(pause)

    workers = [threading.Thread(target=client, args=(texts[i::threads],)) for i in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def statuses(client: redis.Redis, ids: list[str]) -> dict[str, dict[str, str]]:
    pipe = client.pipeline(transaction=False)
    for job_id in ids:
        pipe.hmget(f"newsnlp:job:{job_id}", "status", "writes", "late_writes", "attempts")
    out = {}
    for job_id, values in zip(ids, pipe.execute(), strict=True):
        status, writes, late, attempts = (v.decode() if v else None for v in values)
        out[job_id] = {
            "status": status or "missing",
            "writes": writes or "0",
            "late": late or "0",
            "attempts": attempts or "0",
        }
    return out


def wait_all_ended(client: redis.Redis, ids: list[str], timeout: float) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        try:
            current = statuses(client, ids)
        except redis.exceptions.ConnectionError:
            current = {}
        ended = [s for s in current.values() if s["status"] in ("succeeded", "failed", "canceled")]
        if current and len(ended) == len(ids) or time.monotonic() > deadline:
            return current
        time.sleep(0.5)


def wait_log(worker: WorkerProcess, needle: str, after: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if needle in worker.read_log()[after:]:
            return True
        time.sleep(0.05)
    return False


def report(name: str, ids: list[str], final: dict[str, dict], started: float, notes: str) -> dict:
    finished = sum(1 for s in final.values() if s["status"] == "succeeded")
    failed = sum(1 for s in final.values() if s["status"] == "failed")
    lost = sum(1 for s in final.values() if s["status"] not in ("succeeded", "failed", "canceled"))
    duplicated = sum(1 for s in final.values() if int(s["writes"]) > 1)
    reruns = sum(1 for s in final.values() if int(s["attempts"]) > 1)
    discarded = sum(int(s["late"]) for s in final.values())
    print(
        f"{name:<34} accepted {len(ids):>4}  succeeded {finished:>4}  failed {failed:>2}  "
        f"lost {lost}  duplicated {duplicated}  re-run {reruns}  late writes refused "
        f"{discarded}  {time.monotonic() - started:6.1f} s  {notes}",
        flush=True,
    )
    return {"accepted": len(ids), "finished": finished, "lost": lost + failed,
            "duplicated": duplicated}  # fmt: skip


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
    args = parser.parse_args()
    work = REPO_ROOT / "var" / "chaos"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    socket_path = work / "redis.sock"
    server = LocalRedis(work / "redis", fsync="always", unix_socket=socket_path)
    server.start()
    client = redis.Redis.from_url(server.url, socket_connect_timeout=2, socket_timeout=5)
    api = ApiProcess(server.url, free_port(), work / "api.log").start()
    workers = [
        WorkerProcess(server.url, work / f"w{i}.log", name=f"w{i}", **WORKER_ENV).start()
        for i in (1, 2)
    ]
    ledger = Ledger()
    results = []
    print(f"chaos run: {args.jobs} jobs a step, visibility timeout {VISIBILITY} s, "
          f"time limits {SOFT_LIMIT}/{HARD_LIMIT} s, redis appendfsync always",
          flush=True)  # fmt: skip
    try:
        # -- step 1: crashed workers --------------------------------------------------------
        t0 = time.monotonic()
        before = len(ledger.accepted)
        marks = [len(w.read_log()) for w in workers]
        feeder = threading.Thread(
            target=submit_many, args=(api.url, corpus(args.jobs), ledger), daemon=True
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
        t0 = time.monotonic()
        before, refused_before = len(ledger.accepted), ledger.refused_503
        feeder = threading.Thread(
            target=submit_many, args=(api.url, corpus(args.jobs), ledger, 4, 10.0), daemon=True
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
        why_not = netns_available()
        if why_not is not None:
            print(f"3 worker cut off from redis         SKIPPED: cannot create a network "
                  f"namespace here ({why_not})", flush=True)  # fmt: skip
        else:
            results.append(step_cut_off(args.jobs, server, client, api, work, ledger))

        results.append(step_redis_full(args.jobs, client, api, workers, ledger))
    finally:
        for w in workers:
            w.stop()
        api.stop()
        server.stop()
        client.close()

    accepted = sum(r["accepted"] for r in results)
    finished = sum(r["finished"] for r in results)
    lost = sum(r["lost"] for r in results)
    duplicated = sum(r["duplicated"] for r in results)
    print(f"chaos: {accepted} jobs accepted, {finished} finished, {lost} lost, "
          f"{duplicated} duplicated", flush=True)  # fmt: skip
    return 0 if lost == 0 and duplicated == 0 and finished == accepted else 1


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
