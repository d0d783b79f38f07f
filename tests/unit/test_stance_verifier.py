"""The claim verifier: its delta saved over the packaged MiniLM and loaded back, its verdicts
aggregated into the article's stance, and each evidence sentence marked with its verdict."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel

from services.documents import Evidence
from services.embeddings.minilm import packaged_minilm_path
from services.errors import ModelLoadError
from services.stance.cross import (
    DELTA_FILE,
    CrossEncoderNet,
    StanceCrossEncoder,
    save_delta,
    trainable_prefixes,
)
from services.stance.trained import VERIFIER_FOLDER, TrainedStanceDetector, shipped_aggregator
from services.stance.verdicts import (
    ARTICLE_LABELS,
    FEATURES,
    STAGE2_FEATURES,
    VERDICTS,
    VerdictAggregator,
    verdict_features,
    with_verdicts,
)
from services.text.cleaning import clean_article
from tests.conftest import REFERENCE_TITLE

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "stance"


def _readable(
    weights: dict[tuple[str, str], float],
    intercept: tuple[float, float, float],
    features: tuple[str, ...] = FEATURES,
) -> VerdictAggregator:
    """An aggregator whose only weights are `weights[(label, feature)]`, unstandardised."""
    coef = np.zeros((len(ARTICLE_LABELS), len(features)))
    for (label, feature), w in weights.items():
        coef[ARTICLE_LABELS.index(label), features.index(feature)] = w
    return VerdictAggregator(
        mean=(0.0,) * len(features),
        scale=(1.0,) * len(features),
        coef=tuple(tuple(r) for r in coef),
        intercept=intercept,
        features=features,
    )


def _aggregator() -> VerdictAggregator:
    """Agree follows top_supports, disagree top_refutes: a readable rule for the tests."""
    weights = {("agree", "top_supports"): 4.0, ("disagree", "top_refutes"): 4.0}
    return _readable(weights, (0.0, 0.0, 1.0))


@pytest.fixture(scope="module")
def verifier_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder: the shipped LightGBM stages plus a randomly initialised verifier."""
    folder = tmp_path_factory.mktemp("stance")
    for f in MODEL_DIR.iterdir():
        if f.is_file():
            shutil.copy(f, folder / f.name)
    (folder / VERIFIER_FOLDER).mkdir()
    torch.manual_seed(0)
    net = CrossEncoderNet(AutoModel.from_pretrained(str(packaged_minilm_path())))
    save_delta(net, folder / VERIFIER_FOLDER, trainable_prefixes(1, 6), VERDICTS, 64)
    manifest = json.loads((folder / "stance_model.json").read_text(encoding="utf-8"))
    manifest["verifier"] = {"aggregator": _aggregator().to_json(), "class_weights": [1, 1, 1]}
    (folder / "stance_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_only_the_trained_top_layer_and_head_are_stored(verifier_dir: Path) -> None:
    from safetensors.torch import load_file

    delta = load_file(str(verifier_dir / VERIFIER_FOLDER / DELTA_FILE))
    assert all(k.startswith(("base.encoder.layer.5.", "head.")) for k in delta)
    assert {v.dtype for v in delta.values()} == {torch.float16}
    assert (verifier_dir / VERIFIER_FOLDER / DELTA_FILE).stat().st_size < 4_000_000


def test_the_delta_loads_and_predicts_in_input_order(verifier_dir: Path) -> None:
    model = StanceCrossEncoder.load(verifier_dir / VERIFIER_FOLDER, packaged_minilm_path())
    assert model.labels == VERDICTS
    claims = ["Kerry meets Putin", "Kerry stayed in Washington", "Kerry meets Putin"]
    passages = ["Kerry met Putin in Sochi on Tuesday. " * 5, "He flew to Sochi.", "Short."]
    together = model.predict(claims, passages)
    one_by_one = np.vstack([model.predict([c], [p]) for c, p in zip(claims, passages, strict=True)])
    assert together.shape == (3, 3)
    assert together.sum(axis=1) == pytest.approx(np.ones(3))
    # Length-sorted batching changes no row (bf16 rounding allowed).
    assert together == pytest.approx(one_by_one, abs=2e-2)


def test_the_detector_marks_each_evidence_sentence(
    verifier_dir: Path, encoder, reference_text
) -> None:
    detector = TrainedStanceDetector.load(verifier_dir)
    assert detector.verifier is not None and detector.aggregator is not None
    document = clean_article(reference_text)
    vectors = encoder.encode([s.text for s in document.sentences])
    claims = [REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1"]
    stances = detector.detect(claims, document, vectors, encoder.encode(claims))
    assert stances[1].label == "unrelated"
    assert all(e.verdict is None for e in stances[1].evidence)
    related = stances[0]
    assert related.label in ("agree", "disagree", "discuss")
    assert 1 <= len(related.evidence) <= 3
    assert all(e.verdict in VERDICTS and 0 < e.verdict_score <= 1 for e in related.evidence)
    for stance in stances:
        assert sum(stance.scores.values()) == pytest.approx(1.0, abs=1e-6)


def test_the_aggregator_reads_the_verdicts() -> None:
    agg = _aggregator()
    sims = [0.8, 0.6]
    texts = ["Kerry flew to Sochi.", "Officials said he may go."]
    supports = verdict_features("Kerry flew to Sochi", texts, sims, [[0.9, 0.05, 0.05]] * 2)
    refutes = verdict_features("Kerry flew to Sochi", texts, sims, [[0.05, 0.9, 0.05]] * 2)
    neutral = verdict_features("Kerry flew to Sochi", texts, sims, [[0.05, 0.05, 0.9]] * 2)
    labels = [
        ARTICLE_LABELS[int(i)]
        for i in agg.probabilities(np.array([supports, refutes, neutral])).argmax(1)
    ]
    assert labels == ["agree", "disagree", "discuss"]
    assert VerdictAggregator.from_json(agg.to_json()) == agg
    assert verdict_features("a claim", [], [], np.zeros((0, 3))).shape == (len(FEATURES),)


def _stacked_aggregator() -> VerdictAggregator:
    """Agree follows stage 2's agree, disagree its disagree: the verdicts weigh nothing."""
    weights = {(label, f"stage2_{label}"): 8.0 for label in ARTICLE_LABELS}
    return _readable(weights, (0.0, 0.0, 0.0), FEATURES + STAGE2_FEATURES)


def test_the_trained_backends_aggregator_also_reads_stage_2(tmp_path: Path) -> None:
    agg = _stacked_aggregator()
    assert agg.uses_stage2 and not _aggregator().uses_stage2
    texts, sims, supports = ["Kerry flew to Sochi."], [0.8], [[0.9, 0.05, 0.05]]
    row = verdict_features("Kerry flew to Sochi", texts, sims, supports, [0.1, 0.8, 0.1])
    assert row.shape == (len(FEATURES) + len(STAGE2_FEATURES),)
    assert ARTICLE_LABELS[int(agg.probabilities(row).argmax())] == "disagree"
    assert VerdictAggregator.from_json(agg.to_json()) == agg
    with pytest.raises(ValueError, match="other features"):
        VerdictAggregator.from_json({**agg.to_json(), "features": [*FEATURES, "stage2_agree"]})
    # Other verifiers (NLI) have no stage 2: they get the verdict-only aggregator, or none.
    manifest = tmp_path / "stance_model.json"
    both = {"aggregator": agg.to_json(), "verdict_aggregator": _aggregator().to_json()}
    manifest.write_text(json.dumps({"verifier": both}), encoding="utf-8")
    assert shipped_aggregator(tmp_path) == _aggregator()
    manifest.write_text(json.dumps({"verifier": {"aggregator": agg.to_json()}}), encoding="utf-8")
    assert shipped_aggregator(tmp_path) is None


def test_the_detector_passes_stage_2_to_a_stacked_aggregator(
    verifier_dir: Path, encoder, reference_text, tmp_path: Path
) -> None:
    folder = tmp_path / "stacked"
    shutil.copytree(verifier_dir, folder)
    manifest = json.loads((folder / "stance_model.json").read_text(encoding="utf-8"))
    manifest["verifier"]["aggregator"] = _stacked_aggregator().to_json()
    (folder / "stance_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    stacked = TrainedStanceDetector.load(folder)
    plain = TrainedStanceDetector.load(MODEL_DIR)
    document = clean_article(reference_text)
    vectors = encoder.encode([s.text for s in document.sentences])
    claims = [REFERENCE_TITLE, "Kerry stayed in Washington instead of meeting Putin"]
    claim_vectors = encoder.encode(claims)
    with_verifier = stacked.detect(claims, document, vectors, claim_vectors)
    without = plain.detect(claims, document, vectors, claim_vectors)
    # The aggregator only follows stage 2 (class weights 1): each related claim gets stage 2's
    # most probable label, and its evidence is marked with verdicts.
    assert [s.label == "unrelated" for s in with_verifier] == [
        s.label == "unrelated" for s in without
    ]
    related = [
        (a, b) for a, b in zip(with_verifier, without, strict=True) if a.label != "unrelated"
    ]
    assert related
    for a, b in related:
        assert a.label == max(("agree", "disagree", "discuss"), key=lambda k: b.scores[k])
        assert all(e.verdict in VERDICTS for e in a.evidence)


def test_the_deciding_sentence_comes_first() -> None:
    evidence = [
        Evidence(index=i, text=t, start=0, end=1, score=s)
        for i, (t, s) in enumerate((("a", 0.9), ("b", 0.7), ("c", 0.5)))
    ]
    verdicts = np.array([[0.2, 0.1, 0.7], [0.1, 0.8, 0.1], [0.6, 0.2, 0.2]])
    disagree = with_verdicts(evidence, verdicts, "disagree")
    assert [e.text for e in disagree] == ["b", "a", "c"]
    assert [e.verdict for e in disagree] == ["refutes", "neutral", "supports"]
    assert disagree[0].verdict_score == pytest.approx(0.8)
    assert [e.text for e in with_verdicts(evidence, verdicts, "agree")] == ["c", "a", "b"]
    assert [e.text for e in with_verdicts(evidence, verdicts, "discuss")] == ["a", "b", "c"]


def test_a_missing_or_mismatched_verifier_fails_loudly(verifier_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no cross-encoder delta"):
        StanceCrossEncoder.load(tmp_path, packaged_minilm_path())
    broken = tmp_path / "broken"
    shutil.copytree(verifier_dir, broken)
    config_path = broken / VERIFIER_FOLDER / "cross_encoder.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config["trained_prefixes"] = ["base.encoder.layer.4.", "head."]
    config_path.write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="does not fit"):
        TrainedStanceDetector.load(broken)
    manifest_path = broken / "stance_model.json"
    shutil.copy(verifier_dir / VERIFIER_FOLDER / "cross_encoder.json", config_path)
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["verifier"]["aggregator"]["features"] = ["something", "else"]
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="bad verifier entry"):
        TrainedStanceDetector.load(broken)


def test_the_benchs_naive_verifier_calls_the_same_network_pair_by_pair(verifier_dir: Path) -> None:
    from bench.in_process import PerPairVerifier

    model = StanceCrossEncoder.load(verifier_dir / VERIFIER_FOLDER, packaged_minilm_path())
    claims = ["Kerry meets Putin", "Kerry stayed in Washington"]
    passages = ["Kerry met Putin in Sochi on Tuesday.", "He flew to Sochi."]
    naive = PerPairVerifier(model).predict(claims, passages)
    assert naive.shape == (2, 3)
    assert naive == pytest.approx(model.predict(claims, passages), abs=2e-2)
