"""The benchmark's code runs on a tiny corpus, and its ratios come from its own figures.

Nothing here times anything: the figures of a run on a shared test machine mean nothing.
"""

from __future__ import annotations

import json
import os
import time

import pytest

from bench import api_latency as bench_api
from bench import machine as bench_machine
from bench import throughput as bench
from bench import wrk as bench_wrk
from tests.conftest import data_dir


@pytest.fixture(scope="module")
def corpus():
    if not (data_dir() / "cnndm").is_dir() or not (data_dir() / "fnc1").is_dir():
        pytest.skip(f"shared data not found at {data_dir()} (set NEWSNLP_DATA_DIR)")
    return bench.build_corpus(data_dir(), limit=2)


def test_the_corpus_is_cnndm_plus_the_reference_with_three_fnc_claims_each(corpus):
    articles, warmup = corpus
    assert [a.id for a in articles][-1] == "reference" and len(articles) == 3
    assert all(len(a.claims) == bench.CLAIMS_PER_ARTICLE for a in articles + warmup)
    claims = [c for a in articles + warmup for c in a.claims]
    assert len(set(claims)) == len(claims)  # no claim is seen twice: no cache hit by design
    assert not {a.text for a in warmup} & {a.text for a in articles}
    again, _ = bench.build_corpus(data_dir(), limit=2)
    assert again == articles  # deterministic


def phase(name: str, articles: int, seconds: float, tokens: int = 1000) -> bench.Phase:
    return bench.Phase(name, name, 1, 1, articles, seconds, tokens, [10.0, 20.0, 30.0])


def test_rounds_deal_every_article_once_and_add_up_to_one_phase(corpus):
    articles, _ = corpus
    parts = bench.deal(articles, 2)
    assert sorted(a.id for p in parts for a in p) == sorted(a.id for a in articles)
    assert [len(p) for p in parts] == [2, 1]
    assert len(bench.deal(articles, 10)) == len(articles)  # never an empty round
    rounds = [
        bench.Phase("e2e", "e2e", 1, 2, 2, 1.0, 300, [10.0, 30.0],
                    {"run_ms": [5.0, 7.0], "cache_hits": 1, "outcomes": {"a": ((0,), ())}}),
        bench.Phase("e2e", "e2e", 1, 2, 1, 3.0, 100, [20.0],
                    {"run_ms": [9.0], "cache_hits": 2, "outcomes": {"b": ((1,), ())}}),
    ]  # fmt: skip
    whole = bench.combine(rounds)
    assert (whole.articles, whole.seconds, whole.tokens) == (3, 4.0, 400)
    assert whole.articles_per_s == pytest.approx(3 / 4.0)  # not the mean of the rounds' rates
    assert sorted(whole.latencies_ms) == [10.0, 20.0, 30.0]
    assert whole.extra["cache_hits"] == 3 and set(whole.extra["outcomes"]) == {"a", "b"}
    summary = whole.summary()
    assert summary["run_p50_ms"] == 7.0 and "run_ms" not in summary
    assert summary["rounds"] == 2
    assert summary["round_articles_per_s"] == [2.0, 0.33]


def test_the_ratios_are_quotients_of_the_phases_figures():
    phases = {
        "naive": phase("naive", 10, 10.0),
        "in_process": phase("in_process", 10, 2.5),
        "raw": phase("raw", 10, 2.0),
        "e2e": phase("e2e", 10, 2.6),
        "e2e_1x1": phase("e2e_1x1", 10, 4.0),
        "e2e_2x1": phase("e2e_2x1", 10, 2.2),
    }
    values = bench.ratios(phases)
    assert values["speedup_vs_naive"] == pytest.approx(4.0)
    assert values["queue_overhead"] == pytest.approx(2.5 / 2.6)
    assert values["worker_scaling"] == pytest.approx(4.0 / 2.2)
    assert values["model_limit"] == pytest.approx(2.0 / 2.5)
    lines = bench.ratio_lines(values)
    assert lines == [
        "queue overhead ratio (e2e/in-process): 0.96",
        "speedup vs naive: 4.00",
        "worker scaling (2/1): 1.82",
        "model-limit ratio (pipeline/raw tokens per s): 0.80",
    ]
    table = bench.format_table(phases, {"worker pool process (each)": {"rss_mb": 1, "pss_mb": 1}})
    assert "naive" in table and "worker pool process" in table


def test_the_in_process_phases_run_and_count_the_same_tokens(corpus):
    from worker.wiring import build_analyzer, build_stance_detector

    articles, _ = corpus
    settings = bench.worker_settings("similarity", threads=1)
    naive = bench.run_naive(articles, 0, bench.NaivePipeline(build_stance_detector(settings)))
    analyzer = build_analyzer(settings)
    inner = analyzer.encoder.encoder
    prepared = bench.prepare(articles)
    tokens = bench.count_tokens(prepared, inner.batcher)
    in_process = bench.run_in_process(articles, tokens, analyzer, 1)
    raw = bench.run_raw(prepared, analyzer.encoder, 1)
    assert naive.articles == in_process.articles == raw.articles == len(articles)
    assert raw.tokens == tokens > 0
    assert len(in_process.latencies_ms) == len(articles)
    assert in_process.extra["cache_misses"] > 0
    assert set(in_process.extra["latency_by_id"]) == {a.id for a in articles}
    again = bench.resubmission(analyzer, articles)
    assert again["resubmission_p50_ms"] < max(in_process.latencies_ms)  # vectors cached
    assert in_process.extra["encoder"]["class"] == "TorchSentenceEncoder"
    summary = in_process.summary()
    assert summary["articles_per_s"] == pytest.approx(len(articles) / in_process.seconds, 1e-2)


def test_memory_peaks_merge_by_kind():
    merged = bench.merge_peaks(
        {"worker": {"rss_mb": 500.0, "pss_mb": 300.0}},
        {"worker": {"rss_mb": 450.0, "pss_mb": 350.0}, "redis": {"rss_mb": 5.0, "pss_mb": 4.0}},
    )
    assert merged == {
        "worker": {"rss_mb": 500.0, "pss_mb": 350.0},
        "redis": {"rss_mb": 5.0, "pss_mb": 4.0},
    }


def test_figures_are_written_as_json(tmp_path):
    path = tmp_path / "out" / "latest.json"
    bench.write_figures({"ratios": {"speedup_vs_naive": 3.4}}, [path])
    assert json.loads(path.read_text())["ratios"]["speedup_vs_naive"] == 3.4


def test_wrk_output_is_parsed_and_failures_counted():
    output = "Running 30s test\nRESULT 6000 30000000 0 0 0 0 0 2500 9100 15000 0\n"
    figures = bench_wrk.parse_wrk(output)
    assert figures["rate_per_s"] == 200.0
    assert (figures["p50_ms"], figures["p99_ms"]) == (2.5, 9.1)
    assert bench_wrk.failures(figures) == 0
    broken = bench_wrk.parse_wrk("RESULT 10 1000000 0 1 0 2 0 1 2 3 4\n")
    assert bench_wrk.failures(broken) == 7


def test_wrk_rounds_add_up_and_take_the_median_percentiles():
    runs = [
        bench_wrk.parse_wrk(f"RESULT 2000 10000000 0 0 0 {e} 0 {p50} {p99} {mx} 0\n")
        for e, p50, p99, mx in ((0, 900, 1500, 9000), (1, 1000, 3000, 4000), (0, 800, 2000, 5000))
    ]
    whole = bench_wrk.combine_rounds(runs)
    assert (whole["requests"], whole["seconds"], whole["rate_per_s"]) == (6000, 30.0, 200.0)
    assert (whole["p50_ms"], whole["p99_ms"], whole["max_ms"]) == (0.9, 2.0, 9.0)
    assert bench_wrk.failures(whole) == 1 and len(whole["rounds"]) == 3


def test_the_bare_app_only_answers_202():
    client = bench_api.bare_app().test_client()
    response = client.post("/v1/jobs", json={"article": {"text": "x"}})
    assert response.status_code == 202


def test_the_same_work_control_runs_its_loop_on_every_post(monkeypatch):
    assert bench_api.spin(4) == 0 + 1 + 2 + 3
    assert bench_api.iterations_per_ms(iterations=10_000, tries=2) > 0
    calls = []
    monkeypatch.setattr(bench_api, "spin", lambda n: calls.append(n))
    monkeypatch.setenv(bench_api.WORK_ITERATIONS_ENV, "1234")
    client = bench_api.control_app().test_client()
    for _ in range(2):
        assert client.post("/v1/jobs", json={"article": {"text": "x"}}).status_code == 202
    assert calls == [1234, 1234]


def test_cpu_per_request_comes_from_the_processes_own_clock():
    busy_until = time.process_time() + 0.05
    while time.process_time() < busy_until:
        pass
    used = bench_api.cpu_seconds([os.getpid()])
    assert used >= 0.04 and abs(used - time.process_time()) <= 0.05  # 10 ms ticks
    run = {"requests": 200, "cpu_s": 0.5}
    assert bench_api.per_request_cpu_ms(run) == 2.5
    whole = bench_wrk.combine_rounds(
        [{**run, "seconds": 1.0, "errors": {}, "p50_ms": 1.0, "p99_ms": 4.0, "max_ms": 9.0},
         {**run, "seconds": 1.0, "errors": {}, "p50_ms": 2.0, "p99_ms": 6.0, "max_ms": 7.0}]
    )  # fmt: skip
    assert whole["cpu_ms_per_request"] == 2.5
    bare = [{"p99_ms": 2.0}, {"p99_ms": 4.0}]
    assert bench_wrk.p99_ratios([{"p99_ms": 5.0}, {"p99_ms": 4.0}], bare) == [2.5, 1.0]


def test_the_machine_probe_divides_two_processes_work_by_one_process_work(tmp_path):
    assert bench_machine.pair_ratios([(100, 180), (50, 100), (0, 10)]) == [1.8, 2.0]
    out = tmp_path / "machine.json"
    assert bench_machine.main(["--pairs", "2", "--seconds", "0.05", "--out", str(out)]) == 0
    kinds = json.loads(out.read_text())["kinds"]
    assert list(kinds) == list(bench_machine.KINDS)
    for figures in kinds.values():
        assert len(figures["counts_one_two"]) == 2 and all(
            one > 0 and two > 0 for one, two in figures["counts_one_two"]
        )
        assert figures["ratios"] == [round(two / one, 3) for one, two in figures["counts_one_two"]]


def test_latency_percentiles_are_nearest_rank_in_ms():
    samples = [i / 1000 for i in range(1, 101)]  # 1..100 ms
    assert bench_wrk.percentiles_ms(samples) == {"p50_ms": 50.0, "p99_ms": 99.0, "max_ms": 100.0}
    assert bench_wrk.percentiles_ms([0.004]) == {"p50_ms": 4.0, "p99_ms": 4.0, "max_ms": 4.0}
