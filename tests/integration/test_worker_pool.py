"""The worker's pool (`worker.pool.PipelinedPool`) with real worker processes.

One pool process holds its next job in its pipe while it runs one: killed mid-job, it loses
neither. Several pool processes share the jobs out, none idling while another has two.
"""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.integration.conftest import isolated_stack, wait_for_job

pytestmark = pytest.mark.integration


def long_article(seed: int, sentences: int = 400) -> str:
    # Every sentence differs, so the encoder's vector cache cannot shorten the job.
    return " ".join(
        f"Council member {seed}-{i} said the {i * 37 + seed} million budget for district "
        f"{i % 17} would fund {i * 3 + 2} new buses before the vote on day {i % 29}."
        for i in range(sentences)
    )


def test_a_killed_pool_process_loses_neither_its_job_nor_the_next(tmp_path):
    with isolated_stack(tmp_path, "crash") as (client, worker):
        ids = []
        for seed in range(3):
            response = client.post(
                "/v1/jobs", json={"article": {"text": long_article(seed)}, "tasks": ["summary"]}
            )
            assert response.status_code == 202
            ids.append(response.get_json()["id"])
        first, second, _ = ids
        # The main process holds the second job too (a prefetch of 2), written to the pool
        # process's pipe while the first one runs.
        marks = (f"job {first} started", f"newsnlp.analyze[{second}] received")
        deadline = time.monotonic() + 30
        log = ""
        while not all(m in log for m in marks) and time.monotonic() < deadline:
            time.sleep(0.02)
            log = worker.read_log()
        assert all(m in log for m in marks)
        assert f"job {first} succeeded" not in log
        (pool_process,) = worker.child_pids()
        os.kill(pool_process, signal.SIGKILL)

        bodies = [wait_for_job(client, job_id, timeout=120) for job_id in ids]
        assert [b["status"] for b in bodies] == ["succeeded"] * 3
        # The first was started, lost with its process and run again; the others ran once.
        assert [b["attempts"] for b in bodies] == [2, 1, 1]
        assert pool_process not in worker.child_pids()


def test_two_pool_processes_run_two_jobs_at_once(tmp_path):
    with isolated_stack(tmp_path, "pair", concurrency=2, NEWSNLP_WORKER_CONCURRENCY="2") as (
        client,
        _,
    ):
        ids = [
            client.post(
                "/v1/jobs", json={"article": {"text": long_article(seed)}, "tasks": ["summary"]}
            ).get_json()["id"]
            for seed in range(4)
        ]
        bodies = [wait_for_job(client, job_id, timeout=120) for job_id in ids]
        assert [b["status"] for b in bodies] == ["succeeded"] * 4
        # The first two ran at the same time, one in each process, rather than one after
        # the other in the same process.
        first, second = bodies[:2]
        assert second["started_at"] < first["finished_at"], (first, second)
        assert first["started_at"] < second["finished_at"], (first, second)


def test_processes_freeze_their_startup_heap_with_the_models_even_loaded_late(tmp_path):
    with isolated_stack(tmp_path, "lazy", NEWSNLP_PRELOAD_MODELS="false") as (client, worker):
        response = client.post("/v1/jobs", json={"article": {"text": long_article(7, 20)}})
        assert wait_for_job(client, response.get_json()["id"])["status"] == "succeeded"
        messages = [
            json.loads(line)["message"]
            for line in worker.read_log().splitlines()
            if line.startswith("{")
        ]
    frozen = [i for i, m in enumerate(messages) if "startup objects frozen" in m]
    loaded = [i for i, m in enumerate(messages) if m.startswith("models loaded")]
    # The main process when ready, and the pool process once its first job loaded the models.
    assert len(frozen) == 2 and len(loaded) == 1
    assert frozen[0] < loaded[0] < frozen[1]
    pool_frozen = int(messages[frozen[1]].split()[0])
    assert pool_frozen > 100_000  # torch, transformers and the models' objects
