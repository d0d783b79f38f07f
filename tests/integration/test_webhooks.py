"""Webhooks: a signed POST when a job ends, retried with backoff; internal addresses refused."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jobs.webhooks import SIGNATURE_HEADER, DestinationRefused, check_destination, verify
from tests.integration.conftest import WEBHOOK_SECRET

pytestmark = pytest.mark.integration

TEXT = "The council passed the budget on Monday. Schools get more money."


class Receiver:
    """A local HTTP receiver that fails its first `failures` deliveries with a 500."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if receiver.failures > 0 else 200
                receiver.failures -= 1
                receiver.received.append((dict(self.headers), body, status))
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def submit(client, url: str) -> str:
    response = client.post(
        "/v1/jobs", json={"article": {"text": TEXT}, "tasks": ["summary"], "callback_url": url}
    )
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def test_ended_job_is_posted_signed(client, worker, receiver):
    job_id = submit(client, receiver.url)
    receiver.wait(1)
    headers, body, status = receiver.received[0]
    assert status == 200
    assert verify(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify("another secret", body, headers[SIGNATURE_HEADER])
    payload = json.loads(body)
    assert payload["id"] == job_id
    assert payload["status"] == "succeeded"
    assert payload["result"]["summary"]["text"]
    deadline = time.monotonic() + 10
    while "webhook" not in (job := client.get(f"/v1/jobs/{job_id}").get_json()):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert job["webhook"] == {"status": "delivered", "attempts": 1, "error": None}


def test_failed_delivery_is_retried(client, worker):
    receiver = Receiver(failures=1)
    try:
        job_id = submit(client, receiver.url)
        receiver.wait(2, timeout=90)
        assert [status for _, _, status in receiver.received] == [500, 200]
        time.sleep(0.5)
        assert client.get(f"/v1/jobs/{job_id}").get_json()["webhook"]["attempts"] == 2
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://127.0.0.2:6379/",  # loopback, but not the allowlisted address
        "ftp://example.org/hook",
        "http://user:pass@example.org/hook",
    ],
)
def test_internal_destinations_are_refused(client, url):
    response = client.post(
        "/v1/jobs", json={"article": {"text": TEXT}, "tasks": ["summary"], "callback_url": url}
    )
    assert response.status_code == 422
    assert "callback_url" in response.get_json()["errors"]


def test_allowlist_opens_a_private_destination():
    with pytest.raises(DestinationRefused):
        check_destination("http://127.0.0.1:9/hook")
    check_destination("http://127.0.0.1:9/hook", ["127.0.0.1"])
    check_destination("http://127.0.0.1:9/hook", ["127.0.0.0/8"])
