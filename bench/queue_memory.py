"""Redis memory of a queued job, against what the queue caps count of it.

    python -m bench.queue_memory

Starts a Redis and the API (no worker: every job stays queued), and for requests of about
1 kB, 100 kB and 200 kB submits a number of jobs and prints Redis's `used_memory` growth per
job, beside the bytes `NEWSNLP_MAX_QUEUED_BYTES` counts for it (request + queue message).
The defaults of the caps are sized from these figures (README, Configuration).
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import redis
import requests

from devstack.local_redis import LocalRedis, free_port
from devstack.processes import ApiProcess

SIZES = ((1_000, 1_000), (100_000, 200), (200_000, 100))  # (text bytes, jobs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server = LocalRedis(Path(tmp) / "redis")
        server.start()
        api = ApiProcess(server.url, free_port(), Path(tmp) / "api.log", workers=1).start()
        client = redis.Redis.from_url(server.url)
        session = requests.Session()
        try:
            for text_bytes, jobs in SIZES:
                client.flushall()
                before = client.info("memory")["used_memory"]
                text = "word " * (text_bytes // 5)
                body = {"article": {"title": "Budget", "text": text}, "tasks": ["summary"]}
                request_bytes = len(json.dumps(body))
                for _ in range(jobs):
                    response = session.post(api.url + "/v1/jobs", json=body, timeout=30)
                    response.raise_for_status()
                per_job = (client.info("memory")["used_memory"] - before) / jobs
                counted = int(client.get("newsnlp:queued:bytes") or 0) / jobs
                print(
                    f"request {request_bytes:>7,} B x {jobs:>5}: Redis {per_job:>9,.0f} B a job "
                    f"(request + {(per_job - request_bytes) / 1000:.2f} kB); "
                    f"the cap counts {counted:,.0f} B (request + "
                    f"{(counted - request_bytes) / 1000:.2f} kB)"
                )
        finally:
            client.close()
            api.stop()
            server.stop()


if __name__ == "__main__":
    main()
