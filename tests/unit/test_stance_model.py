"""The shipped FNC-1 stance model on the reference article, through the service's own path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from services.documents import STANCE_LABELS, Document
from services.errors import ModelLoadError
from services.stance.trained import TrainedStanceDetector
from services.text.cleaning import clean_article
from tests.conftest import REFERENCE_TITLE

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "stance"

# The article's first sentence: "It is the highest-level trip by a US official to Russia since
# Kerry visited Moscow in May 2013".
CONTRADICTING = "Kerry has never visited Moscow"
SPORTS = "Barcelona beat Real Madrid 3-1"


@pytest.fixture(scope="session")
def detector() -> TrainedStanceDetector:
    return TrainedStanceDetector.load(MODEL_DIR)


@pytest.fixture(scope="session")
def reference_document(reference_text: str) -> Document:
    return clean_article(reference_text)


@pytest.fixture(scope="session")
def sentence_vectors(encoder, reference_document: Document) -> np.ndarray:
    return encoder.encode([s.text for s in reference_document.sentences])


def detect(detector, encoder, document, vectors, claims):  # type: ignore[no-untyped-def]
    return detector.detect(claims, document, vectors, encoder.encode(claims))


def test_the_articles_own_title_is_agreed_with_or_discussed(
    detector, encoder, reference_document, sentence_vectors
) -> None:
    (stance,) = detect(detector, encoder, reference_document, sentence_vectors, [REFERENCE_TITLE])
    assert stance.label in {"agree", "discuss"}
    assert stance.scores["unrelated"] < 0.5


def test_a_sports_claim_is_unrelated(
    detector, encoder, reference_document, sentence_vectors
) -> None:
    (stance,) = detect(detector, encoder, reference_document, sentence_vectors, [SPORTS])
    assert stance.label == "unrelated"
    assert stance.scores["unrelated"] > 0.5


def test_a_claim_contradicting_the_first_sentence_is_not_agreed_with(
    detector, encoder, reference_document, sentence_vectors
) -> None:
    (stance,) = detect(detector, encoder, reference_document, sentence_vectors, [CONTRADICTING])
    assert stance.label != "agree"


def test_every_stance_has_four_probabilities_and_one_to_three_evidence_sentences(
    detector, encoder, reference_document, sentence_vectors
) -> None:
    claims = [REFERENCE_TITLE, SPORTS, CONTRADICTING, "Putin meets Kerry in Sochi"]
    stances = detect(detector, encoder, reference_document, sentence_vectors, claims)
    assert [s.claim for s in stances] == claims
    for stance in stances:
        assert tuple(stance.scores) == STANCE_LABELS
        assert sum(stance.scores.values()) == pytest.approx(1.0, abs=1e-6)
        assert all(0.0 <= p <= 1.0 for p in stance.scores.values())
        assert stance.label in STANCE_LABELS
        assert 1 <= len(stance.evidence) <= 3
        for ev in stance.evidence:
            # Offsets point into the cleaned body the client gets back.
            assert reference_document.body[ev.start : ev.end] == ev.text
            assert ev.text == reference_document.sentences[ev.index].text
        scores = [ev.score for ev in stance.evidence]
        assert scores == sorted(scores, reverse=True)


def test_no_claims_give_no_stances(detector, reference_document, sentence_vectors) -> None:
    assert detector.detect([], reference_document, sentence_vectors, np.zeros((0, 384))) == []


def test_a_missing_model_folder_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no stance model"):
        TrainedStanceDetector.load(tmp_path / "nowhere")


def test_a_corrupt_model_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "stance"
    shutil.copytree(MODEL_DIR, broken)
    (broken / "stage2.lgb.txt").write_text("not a model", encoding="utf-8")
    with pytest.raises(ModelLoadError):
        TrainedStanceDetector.load(broken)


def test_a_model_for_other_features_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "stance"
    shutil.copytree(MODEL_DIR, broken)
    manifest = json.loads((broken / "stance_model.json").read_text(encoding="utf-8"))
    manifest["feature_names"] = manifest["feature_names"][:-1]
    (broken / "stance_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="other features"):
        TrainedStanceDetector.load(broken)


def test_its_stages_load_alone_even_beside_an_aggregator_this_code_cannot_read(
    tmp_path: Path, detector, encoder, reference_document, sentence_vectors
) -> None:
    """What `evaluation.train_verdicts` needs when it fits an aggregator of new features:
    stages 1 and 2 of the shipped model, whatever its verifier entry holds."""
    folder = tmp_path / "stance"
    shutil.copytree(MODEL_DIR, folder)
    manifest = json.loads((folder / "stance_model.json").read_text(encoding="utf-8"))
    manifest["verifier"]["aggregator"]["features"] = ["a feature of another version"]
    (folder / "stance_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="bad verifier entry"):
        TrainedStanceDetector.load(folder)
    stages = TrainedStanceDetector.load(folder, stages_only=True)
    assert stages.verifier is None and stages.aggregator is None
    claims = [REFERENCE_TITLE, SPORTS]
    vectors = encoder.encode(claims)
    ours = stages.stage_probabilities(claims, reference_document, sentence_vectors, vectors)
    shipped = detector.stage_probabilities(claims, reference_document, sentence_vectors, vectors)
    for a, b in zip(ours, shipped, strict=True):
        np.testing.assert_allclose(a, b)


def test_the_artifact_stays_small() -> None:
    size = sum(f.stat().st_size for f in MODEL_DIR.iterdir() if f.is_file())
    assert size <= 20 * 1024 * 1024
