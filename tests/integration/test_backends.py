"""The model backends selected by worker settings, in a real worker process: a seq2seq
summarizer (a tiny BART the test builds) and the extractive lead prior set from the env."""

from __future__ import annotations

import pytest

from devstack.local_redis import LocalRedis
from devstack.processes import WorkerProcess
from tests.integration.conftest import isolated_stack, wait_for_job
from tests.tiny_models import CORPUS, build_tiny_bart

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def seq2seq_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("seq2seq")
    model = build_tiny_bart(tmp / "tiny-bart")
    with isolated_stack(
        tmp, "seq2seq",
        NEWSNLP_SUMMARIZER="seq2seq", NEWSNLP_SUMMARIZER_MODEL=str(model),
        NEWSNLP_SUMMARIZER_BEAMS="2", NEWSNLP_SUMMARIZER_MIN_TOKENS="2",
        NEWSNLP_SUMMARIZER_MAX_TOKENS="12", NEWSNLP_STANCE_BACKEND="similarity",
    ) as stack:  # fmt: skip
        yield stack


def test_a_seq2seq_worker_generates_the_summary(seq2seq_stack):
    client, worker = seq2seq_stack
    text = " ".join(CORPUS * 6)  # longer than the tiny model's 64-token window
    response = client.post("/v1/jobs", json={"article": {"text": text}, "tasks": ["summary"]})
    job = wait_for_job(client, response.get_json()["id"])
    assert job["status"] == "succeeded", job
    summary = job["result"]["summary"]
    assert summary["method"] == "abstractive"
    assert summary["sentences"] == []
    assert summary["text"].strip()
    assert "summarizer=seq2seq" in worker.read_log()


def test_a_missing_model_stops_the_worker_with_the_cause(tmp_path):
    server = LocalRedis(tmp_path / "redis")
    server.start()
    worker = WorkerProcess(
        server.url, tmp_path / "worker.log", name="broken",
        NEWSNLP_SUMMARIZER="seq2seq", NEWSNLP_SUMMARIZER_MODEL=str(tmp_path / "no-such-model"),
    )  # fmt: skip
    try:
        with pytest.raises((RuntimeError, TimeoutError)) as info:
            worker.start(timeout=60)
        assert "no-such-model" in str(info.value)
    finally:
        worker.stop()
        server.stop()


@pytest.fixture(scope="module")
def nli_stack(tmp_path_factory):
    from tests.unit.test_stance_nli import ID2LABEL, tiny_nli_model

    tmp = tmp_path_factory.mktemp("nli")
    contradiction = next(i for i, name in ID2LABEL.items() if name == "CONTRADICTION")
    model = tiny_nli_model(tmp / "tiny-nli", ID2LABEL, favour=contradiction)
    with isolated_stack(
        tmp, "nli", NEWSNLP_STANCE_BACKEND="nli", NEWSNLP_NLI_MODEL=str(model)
    ) as stack:
        yield stack


def test_an_nli_worker_maps_contradiction_to_disagree(nli_stack, reference_text):
    client, worker = nli_stack
    title = reference_text.partition("\n")[0]
    job = {
        "article": {"title": title, "text": reference_text},
        "claims": [title, "Barcelona beat Real Madrid 3-1"],
        "tasks": ["stance"],
    }
    done = wait_for_job(client, client.post("/v1/jobs", json=job).get_json()["id"])
    assert done["status"] == "succeeded", done
    related, sports = done["result"]["stance"]
    assert related["label"] == "disagree"  # the tiny model always says contradiction
    assert sports["label"] == "unrelated"  # relatedness comes from MiniLM, not the NLI model
    assert "stance=nli" in worker.read_log()
