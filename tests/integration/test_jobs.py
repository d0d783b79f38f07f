"""Submit → queue → real worker → result, through a real Redis."""

from __future__ import annotations

import pytest

from api import create_app
from api.clients import close_clients
from devstack.local_redis import LocalRedis
from jobs.store import JobStore
from jobs.telemetry import METRICS_KEY, Telemetry, ended_increments, histograms
from tests.conftest import CLUTTER, REFERENCE_TITLE
from tests.integration.conftest import wait_for_job

pytestmark = pytest.mark.integration


def test_reference_article_round_trip(client, worker, reference_text):
    response = client.post(
        "/v1/jobs",
        json={
            "article": {"title": REFERENCE_TITLE, "text": reference_text},
            "claims": [REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1"],
            "options": {"summary": {"max_sentences": 3}},
        },
    )
    assert response.status_code == 202
    created = response.get_json()
    assert created["status"] == "queued"
    assert response.headers["Location"] == created["links"]["self"] == f"/v1/jobs/{created['id']}"

    job = wait_for_job(client, created["id"])
    assert job["status"] == "succeeded", job
    assert job["error"] is None
    assert job["created_at"] <= job["started_at"] <= job["finished_at"]
    result = job["result"]
    body = result["article"]["text"]

    summary = result["summary"]
    assert len(summary["sentences"]) == 3
    for sentence in summary["sentences"]:
        assert body[sentence["start"] : sentence["end"]] == sentence["text"]
    assert [s["index"] for s in summary["sentences"]] == sorted(
        s["index"] for s in summary["sentences"]
    )
    for clutter in CLUTTER:
        assert clutter not in summary["text"]
        assert clutter not in body

    stances = result["stance"]
    assert [s["claim"] for s in stances] == [REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1"]
    assert stances[0]["label"] != "unrelated"
    assert stances[1]["label"] == "unrelated"
    for stance in stances:
        assert set(stance["scores"]) == {"agree", "disagree", "discuss", "unrelated"}
        assert abs(sum(stance["scores"].values()) - 1.0) < 1e-3
        assert 1 <= len(stance["evidence"]) <= 3
        for evidence in stance["evidence"]:
            assert body[evidence["start"] : evidence["end"]] == evidence["text"]


def test_summary_only_job_has_no_stance(client, worker):
    text = (
        "The city council approved the new budget on Monday. "
        "It raises spending on schools by ten percent. "
        "Critics said the plan ignores road repairs. "
        "The mayor will sign it next week."
    )
    response = client.post("/v1/jobs", json={"article": {"text": text}, "tasks": ["summary"]})
    job = wait_for_job(client, response.get_json()["id"])
    assert job["status"] == "succeeded"
    assert "stance" not in job["result"]
    assert job["result"]["summary"]["text"]


def test_article_with_nothing_left_after_cleaning_fails_with_a_reason(client, worker):
    response = client.post(
        "/v1/jobs",
        json={"article": {"text": "Add a comment\nSort by\nShare"}, "tasks": ["summary"]},
    )
    job = wait_for_job(client, response.get_json()["id"])
    assert job["status"] == "failed"
    assert job["error"]["code"] == "article_empty"
    assert job["result"] is None


def test_unknown_job_id_is_404(client, redis_server):
    response = client.get("/v1/jobs/" + "0" * 32)
    assert response.status_code == 404
    assert response.get_json()["reason"] == "job_not_found"


def test_ended_job_is_never_rewritten(redis_client):
    store = JobStore(redis_client, ttl_seconds=60)
    store.create("f" * 32, {"article": {"text": "x"}})
    assert store.start("f" * 32).request == {"article": {"text": "x"}}
    assert store.succeed("f" * 32, {"summary": {"text": "first"}}) is True
    # A redelivered message may run the job again: neither its start nor its result lands.
    assert store.start("f" * 32).request is None
    assert store.succeed("f" * 32, {"summary": {"text": "second"}}) is False
    assert store.fail("f" * 32, "timeout", "late") is False
    record = store.get("f" * 32)
    assert record.status == "succeeded"
    assert record.result == {"summary": {"text": "first"}}
    assert 0 < redis_client.ttl(store.key("f" * 32)) <= 60


def test_a_job_end_is_counted_once_with_the_write(redis_client):
    store = JobStore(redis_client, ttl_seconds=60)
    telemetry = Telemetry(redis_client)
    redis_client.delete(METRICS_KEY)
    store.create("c" * 32, {"article": {"text": "x"}})
    store.start("c" * 32)
    ended = ended_increments(["summary", "stance"], "succeeded", 0.3, {"embed": 0.07})
    assert store.succeed("c" * 32, {"summary": {"text": "first"}}, ended) is True
    # A second end (a redelivered message) is not written, so not counted either.
    assert store.succeed("c" * 32, {"summary": {"text": "again"}}, ended) is False
    late = ended_increments(["summary"], "failed", 9.0)
    assert store.fail("c" * 32, "timeout", "late", late) is False
    figures = telemetry.snapshot()
    assert figures["ended|summary|succeeded"] == "1"
    assert figures["ended|stance|succeeded"] == "1"
    assert "ended|summary|failed" not in figures
    duration = histograms(figures, "job_duration")[""]
    assert (duration.count, duration.total) == (1, pytest.approx(0.3))
    assert duration.buckets["0.25"] == 0 and duration.buckets["0.5"] == 1
    embed = histograms(figures, "model")["embed"]
    assert (embed.count, embed.total, embed.buckets["0.1"]) == (1, pytest.approx(0.07), 1)


def test_a_waiting_job_outlives_the_result_ttl(redis_client):
    store = JobStore(redis_client, ttl_seconds=60, pending_ttl_seconds=3600)
    store.create("b" * 32, {"article": {"text": "x"}})
    assert 60 < redis_client.ttl(store.key("b" * 32)) <= 3600  # queued: the long TTL
    store.start("b" * 32)
    assert 60 < redis_client.ttl(store.key("b" * 32)) <= 3600  # running: still long
    store.fail("b" * 32, "timeout", "late")
    assert 0 < redis_client.ttl(store.key("b" * 32)) <= 60  # ended: the result TTL


def test_job_started_too_often_fails_instead_of_looping(redis_client):
    store = JobStore(redis_client, ttl_seconds=60, max_attempts=2)
    store.create("e" * 32, {"article": {"text": "x"}})
    assert store.start("e" * 32).status == "running"
    assert store.start("e" * 32).status == "running"
    assert store.start("e" * 32).status == "failed"
    record = store.get("e" * 32)
    assert record.status == "failed"
    assert record.error["code"] == "worker_lost"


def test_redis_down_is_503_and_back_up_works(tmp_path):
    server = LocalRedis(tmp_path / "redis")
    server.start()
    try:
        app = create_app({"REDIS_URL": server.url})
        client = app.test_client()
        job = {"article": {"text": "Some text here."}, "tasks": ["summary"]}
        assert client.post("/v1/jobs", json=job).status_code == 202
        server.stop()
        response = client.post("/v1/jobs", json=job)
        assert response.status_code == 503
        assert response.get_json()["reason"] == "redis_unavailable"
        assert int(response.headers["Retry-After"]) > 0
        server.start()
        assert client.post("/v1/jobs", json=job).status_code == 202
        close_clients(app)
    finally:
        server.stop()


def test_html_page_gives_the_summary_of_its_text(client, worker, reference_text):
    title, _, body = reference_text.partition("\n")
    paragraphs = "".join(f"<p>{p}</p>" for p in body.split("\n") if p.strip())
    page = (
        f"<html><head><title>{title}</title><script>var tracking = 1;</script></head><body>"
        "<nav><a href='/'>Home</a> <a href='/world'>World</a></nav>"
        f"<article><h1>{title}</h1>{paragraphs}</article>"
        "<footer>© 2015 News Corp. All rights reserved.</footer></body></html>"
    )
    ids = [
        client.post("/v1/jobs", json={"article": article, "tasks": ["summary"]}).get_json()["id"]
        for article in ({"html": page}, {"text": reference_text})
    ]
    from_html, from_text = (wait_for_job(client, job_id) for job_id in ids)
    assert from_html["status"] == "succeeded", from_html
    assert from_html["result"]["summary"]["text"] == from_text["result"]["summary"]["text"]
    assert "Home" not in from_html["result"]["article"]["text"]
