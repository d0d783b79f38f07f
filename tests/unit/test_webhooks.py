"""Webhook destinations, allowlist ports, timestamped signatures, and the webhook worker's
command: the parts that need no network beyond literal addresses."""

from __future__ import annotations

import ipaddress
import subprocess
import sys

import pytest

from jobs.env import ConfigError
from jobs.webhooks import DestinationRefused, check_destination, parse_allowlist, sign, verify
from tests.conftest import REPO_ROOT
from worker.command import worker_command


@pytest.mark.parametrize(
    "address",
    [
        "::ffff:127.0.0.1",  # IPv4-mapped
        "::ffff:10.1.2.3",
        "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
        "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
    ],
)
def test_ipv6_that_embeds_an_internal_ipv4_is_refused(address):
    with pytest.raises(DestinationRefused):
        check_destination(f"http://[{address}]/hook")


@pytest.mark.parametrize("address", ["64:ff9b::808:808", "2002:808:808::1", "::ffff:8.8.8.8"])
def test_ipv6_that_embeds_a_public_ipv4_is_allowed(address):
    (checked,) = check_destination(f"http://[{address}]/hook").addresses
    assert ipaddress.ip_address(checked) == ipaddress.ip_address(address)


def test_an_embedded_ipv4_allowlisted_opens_it():
    check_destination("http://[64:ff9b::a00:1]/hook", ["10.0.0.0/8"])


def test_an_allowlist_entry_may_pin_a_port():
    allowlist = parse_allowlist("10.1.2.3:8080, 127.0.0.0/8:9000, [::1]:8443, localhost:443")
    check_destination("http://10.1.2.3:8080/hook", allowlist)
    check_destination("http://127.0.0.5:9000/hook", allowlist)
    check_destination("https://[::1]:8443/hook", allowlist)
    check_destination("https://localhost/hook", allowlist)  # 443, https's own
    for url in (
        "http://10.1.2.3/hook",
        "http://10.1.2.3:8081/hook",
        "http://127.0.0.5:6379/",
        "http://[::1]:8080/",
        "http://localhost/hook",  # 80
    ):
        with pytest.raises(DestinationRefused):
            check_destination(url, allowlist)


@pytest.mark.parametrize("raw", ["10.1.2.3:99999", "cms.internal:0", "cms.internal:https"])
def test_an_allowlist_port_out_of_range_is_a_config_error(raw):
    with pytest.raises(ConfigError, match="NEWSNLP_WEBHOOK_ALLOWLIST"):
        parse_allowlist(raw)


@pytest.mark.parametrize("port", ["99999", "65536", "0", "http"])
def test_a_callback_port_out_of_range_is_refused(port):
    with pytest.raises(DestinationRefused, match="port"):
        check_destination(f"http://127.0.0.1:{port}/hook", ["127.0.0.1"])


def test_the_checked_destination_keeps_the_path_and_query():
    destination = check_destination("https://127.0.0.1:8443/a/b?x=1", ["127.0.0.1"])
    assert (destination.scheme, destination.host, destination.port) == ("https", "127.0.0.1", 8443)
    assert destination.target == "/a/b?x=1"


def test_the_signature_covers_the_timestamp_and_the_body():
    body = b'{"id": "x"}'
    header = sign("secret", body, "1700000000")
    assert verify("secret", body, header, "1700000000", now=1700000100)
    assert not verify("secret", body, header, "1700000001", now=1700000100)
    assert not verify("secret", body + b" ", header, "1700000000", now=1700000100)
    assert not verify("secret", body, header, "1700000000", now=1700000000 + 301)  # replayed
    assert not verify("secret", body, header, "not a number")


def test_each_worker_role_has_its_queue_and_module():
    model = worker_command("worker", concurrency=2)
    hooks = worker_command("webhook-worker", concurrency=8, hostname="h@x")
    assert model[:6] == [
        "celery", "-A", "worker.main", "worker", "--queues", "newsnlp,newsnlp-bulk"
    ]  # fmt: skip
    assert hooks[:6] == [
        "celery", "-A", "worker.webhook_main", "worker", "--queues", "newsnlp-webhooks"
    ]  # fmt: skip
    assert hooks[hooks.index("--concurrency") + 1] == "8"
    assert hooks[hooks.index("--hostname") + 1] == "h@x"


def test_the_webhook_worker_imports_no_model_code():
    code = (
        "import sys, worker.webhook_main as m;"
        "heavy = [n for n in sys.modules if n.split('.')[0] in"
        " ('torch', 'transformers', 'onnxruntime', 'services', 'lightgbm', 'numpy')];"
        "print(heavy, m.app.conf.worker_pool, sorted(t for t in m.app.tasks if 'newsnlp' in t))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[] threads ['newsnlp.deliver_webhook']"
