"""The whole benchmark, end-to-end phases included, on a one-article corpus."""

from __future__ import annotations

import json

import pytest

from bench import throughput as bench
from tests.conftest import data_dir

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_tiny_run_prints_the_table_and_ratios_of_its_own_figures(tmp_path, capsys):
    if not (data_dir() / "cnndm").is_dir():
        pytest.skip(f"shared data not found at {data_dir()} (set NEWSNLP_DATA_DIR)")
    out = tmp_path / "bench.json"
    code = bench.main(
        ["--articles", "1", "--rounds", "2", "--stance", "similarity", "--out", str(out)]
    )
    assert code == 0
    figures = json.loads(out.read_text())
    phases = figures["phases"]
    assert set(phases) == {"naive", "in_process", "raw", "e2e", "e2e_1x1", "e2e_2x1", "e2e_drain"}
    assert all(p["articles"] == 2 for p in phases.values())  # 1 CNN/DM + the reference
    assert figures["rounds"] == 2 and phases["e2e"]["rounds"] == 2  # one article a round
    # The corpus's count is the rounds' counts added up, the one every phase divides by.
    assert {p["tokens"] for p in phases.values()} == {figures["corpus"]["tokens"]}
    ratios = figures["ratios"]
    assert ratios["speedup_vs_naive"] == pytest.approx(
        phases["in_process"]["articles_per_s"] / phases["naive"]["articles_per_s"], rel=1e-2
    )
    assert ratios["worker_scaling"] == pytest.approx(
        phases["e2e_2x1"]["articles_per_s"] / phases["e2e_1x1"]["articles_per_s"], rel=1e-2
    )
    assert figures["memory"]["worker pool process (each)"]["rss_mb"] > 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-6].startswith("queue overhead ratio (e2e/in-process): ")
    assert printed[-3].startswith("model-limit ratio (pipeline/raw tokens per s): ")


def test_the_redis_floor_records_jobs_as_a_post_does_and_times_each(redis_server, redis_client):
    from bench import api_latency as bench_api
    from bench import wrk as bench_wrk

    before = len(redis_client.keys("newsnlp:bench-floor:*"))
    payload = {"article": {"text": "Some news."}, "claims": ["a claim"], "tasks": ["stance"]}
    figures = bench_api.redis_round_trips(redis_server.url, payload, rate=50, seconds=0.2)
    assert figures["requests"] == 10
    assert len(redis_client.keys("newsnlp:bench-floor:*")) == before + 10
    assert redis_client.exists("newsnlp:bench-floor-queue") == 0  # the queue it pushed to is gone
    assert 0 < figures["p50_ms"] <= figures["p99_ms"] <= figures["max_ms"]
    # Rounds of it add up like wrk's.
    whole = bench_wrk.combine_rounds([figures, figures])
    assert whole["requests"] == 20 and bench_wrk.failures(whole) == 0
