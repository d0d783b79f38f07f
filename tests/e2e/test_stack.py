"""What a user of `make run` does: POST the reference article over HTTP and read the job."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from devstack.processes import alive, descendants
from tests.conftest import CLUTTER, REFERENCE_TITLE
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e

SPORTS_CLAIM = "Barcelona beat Real Madrid 3-1"


def test_reference_article_summary_and_stance(stack, reference_text):
    response = requests.post(
        f"{stack.url}/v1/jobs",
        json={
            "article": {"title": REFERENCE_TITLE, "text": reference_text},
            "claims": [REFERENCE_TITLE, SPORTS_CLAIM],
        },
        timeout=10,
    )
    assert response.status_code == 202, response.text
    assert response.headers["Location"].startswith("/v1/jobs/")
    job = stack.wait_job(response.json()["id"])
    assert job["status"] == "succeeded", job

    summary = job["result"]["summary"]
    assert summary["text"].strip()
    assert 1 <= len(summary["sentences"]) <= 5
    for clutter in CLUTTER:
        assert clutter not in summary["text"]

    title_stance, sports_stance = job["result"]["stance"]
    assert title_stance["claim"] == REFERENCE_TITLE
    assert title_stance["label"] != "unrelated"
    assert sports_stance["claim"] == SPORTS_CLAIM
    assert sports_stance["label"] == "unrelated"


def test_default_claim_is_the_title(stack, reference_text):
    response = requests.post(
        f"{stack.url}/v1/jobs",
        json={"article": {"title": REFERENCE_TITLE, "text": reference_text}},
        timeout=10,
    )
    job = stack.wait_job(response.json()["id"])
    assert [s["claim"] for s in job["result"]["stance"]] == [REFERENCE_TITLE]


def test_errors_over_http(stack):
    response = requests.post(f"{stack.url}/v1/jobs", data="{not json", timeout=5,
                             headers={"Content-Type": "application/json"})  # fmt: skip
    assert response.status_code == 400
    assert response.json()["reason"] == "invalid_json"
    response = requests.get(f"{stack.url}/v1/jobs/{'0' * 32}", timeout=5)
    assert response.status_code == 404
    assert requests.get(f"{stack.url}/healthz", timeout=5).json() == {"status": "ok"}


def test_sigterm_stops_every_process(tmp_path):
    """A stack of its own is stopped with SIGTERM, and nothing it started survives."""
    stack = start_stack(tmp_path)
    pids = descendants(stack.process.pid)
    assert len(pids) >= 5  # redis, gunicorn master + workers, celery + its pool child, hooks
    commands = [_cmdline(pid) for pid in pids]
    assert any("-A worker.webhook_main worker" in c for c in commands), commands
    stack.process.send_signal(signal.SIGTERM)
    assert stack.process.wait(60) == 0
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert [pid for pid in pids if alive(pid)] == []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def test_sigterm_forwarded_with_ctrl_c_ends_cleanly(tmp_path):
    """As `make` forwards a SIGTERM while the terminal sends SIGINT: one clean stop, exit 0."""
    stack = start_stack(tmp_path)
    control = stack.run_dir / "gunicorn.ctl"
    assert control.is_socket()  # the run's own folder, not one in the home for every stack
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGTERM):
        os.kill(stack.process.pid, sig)
    assert stack.process.wait(60) == 0
    log = stack.log()
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert "stopping redis" in log
    assert not control.exists()


def test_serving_is_said_once_the_worker_is_ready_or_that_it_is_loading(stack):
    log = stack.log()
    serving = log.index("newsnlp is serving on")
    line = log[serving:].splitlines()[0]
    if "the worker is still loading" in line:
        assert "newsnlp's worker is ready" in log[serving:]
    else:
        # Celery logs its "ready." just after the heartbeat /readyz sees: about the same time.
        ready = log.find(" ready.")
        assert 0 <= ready < serving + len(line) + 400, log[-3000:]
    assert requests.get(f"{stack.url}/readyz", timeout=5).status_code == 200
