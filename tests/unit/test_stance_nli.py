"""The NLI backend with a tiny, randomly initialised model built and saved by the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer, BertConfig

from services.documents import STANCE_LABELS
from services.embeddings.minilm import packaged_minilm_path
from services.errors import ModelLoadError
from services.stance.nli import NliStanceDetector, nli_label_indices
from services.text.cleaning import clean_article
from tests.conftest import REFERENCE_TITLE

ID2LABEL = {0: "CONTRADICTION", 1: "ENTAILMENT", 2: "NEUTRAL"}


def tiny_nli_model(folder: Path, id2label: dict[int, str], favour: int | None = None) -> Path:
    """A 2-layer BERT classifier with the packaged MiniLM tokenizer, saved to `folder`.

    With `favour`, the head always predicts that output index (weights zero, bias large),
    which pins the label mapping down independently of the random encoder.
    """
    tokenizer = AutoTokenizer.from_pretrained(str(packaged_minilm_path()), local_files_only=True)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=len(id2label),
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    torch.manual_seed(0)
    model = AutoModelForSequenceClassification.from_config(config)
    if favour is not None:
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.zero_()
            model.classifier.bias[favour] = 10.0
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder


@pytest.fixture(scope="module")
def article(reference_text: str, encoder):  # type: ignore[no-untyped-def]
    document = clean_article(reference_text)
    return document, encoder.encode([s.text for s in document.sentences])


def test_label_names_are_matched_whatever_their_case_or_form() -> None:
    assert nli_label_indices({0: "entail", 1: "Neutral", 2: "CONTRADICT"}) == {
        "entailment": 0,
        "neutral": 1,
        "contradiction": 2,
    }
    with pytest.raises(ModelLoadError, match="not an NLI model"):
        nli_label_indices({0: "LABEL_0", 1: "LABEL_1", 2: "LABEL_2"})


def test_a_tiny_random_model_gives_well_formed_stances(tmp_path: Path, article, encoder) -> None:
    document, vectors = article
    detector = NliStanceDetector.load(
        tiny_nli_model(tmp_path / "nli", ID2LABEL), local_files_only=True
    )
    claims = [REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1"]
    stances = detector.detect(claims, document, vectors, encoder.encode(claims))
    assert [s.claim for s in stances] == claims
    for stance in stances:
        assert tuple(stance.scores) == STANCE_LABELS
        assert sum(stance.scores.values()) == pytest.approx(1.0, abs=1e-6)
        assert 1 <= len(stance.evidence) <= 3
    assert stances[0].label != "unrelated"
    assert stances[1].label == "unrelated"


@pytest.mark.parametrize(("favour", "expected"), [(1, "agree"), (0, "disagree"), (2, "discuss")])
def test_entailment_contradiction_neutral_map_to_agree_disagree_discuss(
    tmp_path: Path, article, encoder, favour: int, expected: str
) -> None:
    document, vectors = article
    folder = tiny_nli_model(tmp_path / "nli", ID2LABEL, favour=favour)
    detector = NliStanceDetector.load(folder, local_files_only=True)
    (stance,) = detector.detect(
        [REFERENCE_TITLE], document, vectors, encoder.encode([REFERENCE_TITLE])
    )
    assert stance.label == expected
    assert max(stance.scores, key=stance.scores.get) == expected


def test_a_model_without_nli_labels_is_refused(tmp_path: Path) -> None:
    folder = tiny_nli_model(tmp_path / "sentiment", {0: "negative", 1: "positive", 2: "neutral"})
    with pytest.raises(ModelLoadError, match="lack"):
        NliStanceDetector.load(folder, local_files_only=True)


def test_a_missing_model_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="cannot load NLI model"):
        NliStanceDetector.load(tmp_path / "nowhere", local_files_only=True)


def test_no_claims_give_no_stances(tmp_path: Path, article) -> None:
    document, vectors = article
    detector = NliStanceDetector.load(
        tiny_nli_model(tmp_path / "nli", ID2LABEL), local_files_only=True
    )
    assert detector.detect([], document, vectors, np.zeros((0, 384))) == []


def test_each_evidence_sentence_carries_its_nli_verdict(tmp_path: Path, article, encoder) -> None:
    document, vectors = article
    folder = tiny_nli_model(tmp_path / "nli", ID2LABEL, favour=0)  # contradiction
    detector = NliStanceDetector.load(folder, local_files_only=True)
    (stance,) = detector.detect(
        [REFERENCE_TITLE], document, vectors, encoder.encode([REFERENCE_TITLE])
    )
    assert stance.label == "disagree"
    assert stance.evidence and all(e.verdict == "refutes" for e in stance.evidence)
    assert all(e.verdict_score == pytest.approx(1.0, abs=1e-3) for e in stance.evidence)


def test_the_shipped_aggregator_decides_when_given(tmp_path: Path, article, encoder) -> None:
    """The same sentence verdicts (all refuting) read as discuss under an aggregator that
    weighs only hedging: the aggregator, not the mean of the verdicts, decides."""
    from services.stance.verdicts import ARTICLE_LABELS, FEATURES, VerdictAggregator

    document, vectors = article
    coef = np.zeros((len(ARTICLE_LABELS), len(FEATURES)))
    aggregator = VerdictAggregator(
        mean=(0.0,) * len(FEATURES),
        scale=(1.0,) * len(FEATURES),
        coef=tuple(tuple(r) for r in coef),
        intercept=(0.0, 0.0, 5.0),
    )
    folder = tiny_nli_model(tmp_path / "nli", ID2LABEL, favour=0)
    detector = NliStanceDetector.load(folder, local_files_only=True, aggregator=aggregator)
    (stance,) = detector.detect(
        [REFERENCE_TITLE], document, vectors, encoder.encode([REFERENCE_TITLE])
    )
    assert stance.label == "discuss"
    assert all(e.verdict == "refutes" for e in stance.evidence)
