"""The stack `make run` starts (devstack.run), on free ports, driven over real HTTP."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time
from urllib.parse import urlsplit

import pytest
import requests

from devstack.local_redis import free_port
from devstack.processes import service_env
from jobs.contract import TERMINAL_STATUSES
from tests.conftest import REPO_ROOT


class RunningStack:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log_path) -> None:
        self.process = process
        self.url = url
        self.log_path = log_path
        self.run_dir = log_path.parent / "run"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_job(self, job_id: str, timeout: float = 90.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            body = requests.get(f"{self.url}/v1/jobs/{job_id}", timeout=5).json()
            if body["status"] in TERMINAL_STATUSES:
                return body
            time.sleep(0.2)
        raise TimeoutError(f"job {job_id} not done in {timeout} s")


def start_stack(tmp) -> RunningStack:
    """`python -m devstack.run` (what `make run` runs) with an embedded Redis."""
    port = free_port()
    env = service_env(
        NEWSNLP_PORT=str(port),
        NEWSNLP_REDIS_DIR=str(tmp / "redis"),
        NEWSNLP_RUN_DIR=str(tmp / "run"),
    )
    env.pop("REDIS_URL", None)  # the embedded Redis, as on a fresh machine
    log_path = tmp / "run.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack.run"],
            cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    running = RunningStack(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + 120
    while "newsnlp is serving on" not in running.log() or "models loaded" not in running.log():
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"make run's stack did not come up:\n{running.log()[-4000:]}")
        time.sleep(0.3)
    return running


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    running = start_stack(tmp_path_factory.mktemp("stack"))
    yield running
    if running.process.poll() is None:
        running.process.send_signal(signal.SIGTERM)
        running.process.wait(60)


CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO_ROOT / "var" / "artifacts"  # git-ignored: screenshots the browser tests take
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="session")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not shutil.which("chromium"):
        pytest.skip("Debian's chromium is not installed (make install-browser, as root)")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


class OnlyService:
    """A route handler that lets through requests to the service only, and keeps the others."""

    def __init__(self, service_url: str) -> None:
        self.origin = urlsplit(service_url).netloc
        self.blocked: list[str] = []

    def __call__(self, route) -> None:
        url = route.request.url
        if urlsplit(url).netloc == self.origin:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("internetdisconnected")


@pytest.fixture()
def open_page(stack, browser):
    """A function that opens a page of the stack at a viewport size, the network limited to
    the service (every other host refused); the page's `.only_service` lists what was refused."""
    contexts = []

    def open_page(path: str = "/", width: int = 1200, height: int = 1600):
        context = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(context)
        only_service = OnlyService(stack.url)
        context.route("**/*", only_service)
        page = context.new_page()
        page.only_service = only_service
        page.goto(stack.url + path)
        return page

    yield open_page
    for context in contexts:
        context.close()
