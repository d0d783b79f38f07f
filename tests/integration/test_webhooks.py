"""Webhooks: a signed, timestamped POST when a job ends, from their own worker and queue.

The receivers are real HTTP servers on loopback: a correct one, one that fails, one that
redirects, one that sends its answer a byte a second, one that answers 128 MB.
"""

from __future__ import annotations

import json
import select
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from devstack.local_redis import free_port
from devstack.processes import ApiProcess
from jobs.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    DestinationRefused,
    check_destination,
    verify,
)
from tests.integration.conftest import (
    WEBHOOK_ENV,
    WEBHOOK_SECRET,
    WEBHOOK_TIMEOUT,
    wait_for_job,
)

pytestmark = pytest.mark.integration

TEXT = "The council passed the budget on Monday. Schools get more money."


class Receiver:
    """A local HTTP receiver: fails its first `failures` deliveries with a 500, or
    redirects every one to `redirect_to`."""

    def __init__(self, failures: int = 0, redirect_to: str | None = None) -> None:
        self.failures = failures
        self.received: list[tuple[dict, bytes, int]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers["Content-Length"]))
                status = 500 if receiver.failures > 0 else 200
                if redirect_to:
                    status = 302
                receiver.failures -= 1
                receiver.received.append((dict(self.headers), body, status))
                self.send_response(status)
                if redirect_to:
                    self.send_header("Location", redirect_to)
                self.send_header("Content-Length", "0")
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


class RawReceiver:
    """A TCP server that reads a request and answers with `answer(connection)`; records when
    each connection opened and when the worker closed it, and the bytes it managed to send."""

    def __init__(self, answer: Callable[[socket.socket, RawReceiver], None]) -> None:
        self.answer = answer
        self.opened: list[float] = []
        self.closed: list[float] = []
        self.sent = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/hook"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        self.opened.append(time.monotonic())
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                data += conn.recv(65536)
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            while len(body) < length:
                body += conn.recv(65536)
            self.answer(conn, self)
        except OSError:
            pass
        finally:
            self.closed.append(time.monotonic())
            conn.close()

    def wait_closed(self, count: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while len(self.closed) < count and time.monotonic() < deadline:
            time.sleep(0.05)

    def close(self) -> None:
        self.listener.close()


def dribble(conn: socket.socket, receiver: RawReceiver) -> None:
    """The status line and headers, one byte a second, for up to a minute; ends when the
    worker closes the connection (seen at once: its end of file)."""
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:
        conn.sendall(bytes([byte]))
        receiver.sent += 1
        readable, _, _ = select.select([conn], [], [], 1.0)
        if readable and not conn.recv(1):
            return


def huge(conn: socket.socket, receiver: RawReceiver) -> None:
    """A 200 that announces and sends 128 MB."""
    size = 128 * 1024 * 1024
    conn.sendall(f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
    chunk = b"x" * 65536
    conn.settimeout(10)
    while receiver.sent < size:
        conn.sendall(chunk)
        receiver.sent += len(chunk)


@pytest.fixture()
def receiver():
    r = Receiver()
    yield r
    r.close()


def submit(client, url: str | None) -> str:
    body = {"article": {"text": TEXT}, "tasks": ["summary"]}
    if url:
        body["callback_url"] = url
    response = client.post("/v1/jobs", json=body)
    assert response.status_code == 202, response.get_json()
    return response.get_json()["id"]


def webhook_outcome(client, job_id: str, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while "webhook" not in (job := client.get(f"/v1/jobs/{job_id}").get_json()):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    return job["webhook"]


def test_ended_job_is_posted_signed_with_a_timestamp(client, worker, webhook_worker, receiver):
    job_id = submit(client, receiver.url)
    receiver.wait(1)
    headers, body, status = receiver.received[0]
    assert status == 200
    timestamp = headers[TIMESTAMP_HEADER]
    assert abs(int(timestamp) - time.time()) < 60
    assert verify(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER], timestamp)
    assert not verify("another secret", body, headers[SIGNATURE_HEADER], timestamp)
    # The same request replayed later, or with its timestamp changed, is refused.
    assert not verify(
        WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER], timestamp, now=int(timestamp) + 3600
    )
    assert not verify(WEBHOOK_SECRET, body, headers[SIGNATURE_HEADER], str(int(timestamp) + 1))
    payload = json.loads(body)
    assert (payload["id"], payload["status"]) == (job_id, "succeeded")
    assert payload["result"]["summary"]["text"]
    assert webhook_outcome(client, job_id) == {"status": "delivered", "attempts": 1, "error": None}
    # Delivered by the webhook worker; the model worker never ran a delivery.
    assert f"webhook of job {job_id} delivered" in webhook_worker.read_log()
    assert f"webhook of job {job_id}" not in worker.read_log()


def test_failed_delivery_is_retried(client, worker, webhook_worker):
    receiver = Receiver(failures=1)
    try:
        job_id = submit(client, receiver.url)
        receiver.wait(2, timeout=90)
        assert [status for _, _, status in receiver.received] == [500, 200]
        time.sleep(0.5)
        assert webhook_outcome(client, job_id)["attempts"] == 2
    finally:
        receiver.close()


def test_a_dribbling_receiver_is_cut_at_the_deadline(client, worker, webhook_worker):
    receiver = RawReceiver(dribble)
    try:
        job_id = submit(client, receiver.url)
        receiver.wait_closed(1, timeout=60)
        held = receiver.closed[0] - receiver.opened[0]
        # The total deadline, not a read timeout that each dribbled byte would reset.
        assert WEBHOOK_TIMEOUT - 0.5 < held < WEBHOOK_TIMEOUT + 2, held
        assert receiver.sent <= WEBHOOK_TIMEOUT + 2
        outcome = webhook_outcome(client, job_id, timeout=30)
        assert outcome == {"status": "failed", "attempts": 2, "error": "failed"}
    finally:
        receiver.close()


def test_a_huge_reply_is_not_read(client, worker, webhook_worker):
    receiver = RawReceiver(huge)
    try:
        job_id = submit(client, receiver.url)
        receiver.wait_closed(1, timeout=60)
        # The worker read 4 kB and closed; what the receiver could send is what the
        # loopback socket buffers hold, far from the 128 MB.
        assert receiver.sent < 16 * 1024 * 1024, receiver.sent
        assert webhook_outcome(client, job_id)["status"] == "delivered"
    finally:
        receiver.close()


def test_a_redirect_is_not_followed_and_the_error_says_only_failed(client, worker, webhook_worker):
    target = Receiver()
    redirecting = Receiver(redirect_to=target.url)
    closed = socket.create_server(("127.0.0.1", 0))
    refused_url = f"http://127.0.0.1:{closed.getsockname()[1]}/hook"
    closed.close()  # nothing listens there: connection refused
    try:
        redirected = submit(client, redirecting.url)
        refused = submit(client, refused_url)
        first = webhook_outcome(client, redirected, timeout=60)
        second = webhook_outcome(client, refused, timeout=60)
        assert target.received == []
        assert len(redirecting.received) == 2
        # A 302 and a closed port read the same: no port scanning through the webhooks.
        assert first == second == {"status": "failed", "attempts": 2, "error": "failed"}
    finally:
        target.close()
        redirecting.close()


def test_a_slow_receiver_does_not_delay_another_clients_job(client, worker, webhook_worker):
    receiver = RawReceiver(dribble)
    try:
        slow_hook = submit(client, receiver.url)
        wait_for_job(client, slow_hook)
        deadline = time.monotonic() + 10
        while not receiver.opened:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        # The delivery is being held by the receiver: another client's job runs meanwhile.
        t0 = time.monotonic()
        other = submit(client, None)
        assert wait_for_job(client, other, timeout=30)["status"] == "succeeded"
        assert not receiver.closed, "the job waited for the slow receiver"
        assert time.monotonic() - t0 < WEBHOOK_TIMEOUT
    finally:
        receiver.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]:8080/hook",
        "http://127.0.0.2:6379/",  # loopback, but not the allowlisted address
        "http://[::ffff:10.0.0.1]/hook",  # IPv4-mapped
        "http://[64:ff9b::a9fe:a9fe]/latest",  # NAT64 of 169.254.169.254
        "http://[2002:a00:1::1]/hook",  # 6to4 of 10.0.0.1
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


@pytest.fixture(scope="module")
def hook_api(redis_server, tmp_path_factory):
    """The API under gunicorn with webhooks on."""
    log = tmp_path_factory.mktemp("hook-api") / "api.log"
    process = ApiProcess(redis_server.url, free_port(), log, workers=1, **WEBHOOK_ENV).start()
    yield process
    process.stop()


@pytest.mark.parametrize("port", ["99999", "65536", "0"])
def test_a_port_out_of_range_is_a_validation_error(hook_api, port):
    url = f"http://127.0.0.1:{port}/hook"
    body = {"article": {"text": TEXT}, "tasks": ["summary"], "callback_url": url}
    response = requests.post(hook_api.url + "/v1/jobs", json=body, timeout=10)
    assert response.status_code == 422, response.text
    assert response.json()["reason"] == "validation_error"
    assert "port" in response.json()["errors"]["callback_url"][0]
    assert requests.get(hook_api.url + "/healthz", timeout=5).status_code == 200


def test_allowlist_opens_a_private_destination():
    with pytest.raises(DestinationRefused):
        check_destination("http://127.0.0.1:9/hook")
    check_destination("http://127.0.0.1:9/hook", ["127.0.0.1"])
    check_destination("http://127.0.0.1:9/hook", ["127.0.0.0/8"])
