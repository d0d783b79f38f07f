"""The cross-encoder delta: saved over the packaged MiniLM, loaded back, used by the detector."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from transformers import AutoModel

from services.embeddings.minilm import packaged_minilm_path
from services.errors import ModelLoadError
from services.stance.cross import (
    DELTA_FILE,
    CrossEncoderNet,
    StanceCrossEncoder,
    save_delta,
    trainable_prefixes,
)
from services.stance.trained import STAGE2_LABELS, TrainedStanceDetector
from services.text.cleaning import clean_article
from tests.conftest import REFERENCE_TITLE

MODEL_DIR = Path(__file__).resolve().parents[2] / "models" / "stance"


@pytest.fixture(scope="module")
def delta_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A model folder: the shipped LightGBM stages plus a randomly initialised delta."""
    folder = tmp_path_factory.mktemp("stance")
    for f in MODEL_DIR.iterdir():
        if f.is_file() and not f.name.startswith("cross_encoder"):
            shutil.copy(f, folder / f.name)
    torch.manual_seed(0)
    net = CrossEncoderNet(AutoModel.from_pretrained(str(packaged_minilm_path())))
    save_delta(net, folder, trainable_prefixes(1, 6), STAGE2_LABELS, 64)
    manifest = json.loads((folder / "stance_model.json").read_text(encoding="utf-8"))
    manifest["cross_encoder"] = {"weight": 0.5}
    (folder / "stance_model.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def test_only_the_trained_top_layer_and_head_are_stored(delta_dir: Path) -> None:
    from safetensors.torch import load_file

    delta = load_file(str(delta_dir / DELTA_FILE))
    assert all(k.startswith(("base.encoder.layer.5.", "head.")) for k in delta)
    assert {v.dtype for v in delta.values()} == {torch.float16}
    assert (delta_dir / DELTA_FILE).stat().st_size < 4_000_000


def test_the_delta_loads_over_the_packaged_encoder(delta_dir: Path) -> None:
    model = StanceCrossEncoder.load(delta_dir, packaged_minilm_path())
    probs = model.predict(["Kerry meets Putin"], ["Kerry met Putin in Sochi on Tuesday."])
    assert probs.shape == (1, 3)
    assert probs.sum() == pytest.approx(1.0)


def test_the_detector_blends_the_cross_encoder_in(delta_dir: Path, encoder, reference_text) -> None:
    detector = TrainedStanceDetector.load(delta_dir)
    assert detector.cross_encoder is not None and detector.cross_encoder_weight == 0.5
    document = clean_article(reference_text)
    vectors = encoder.encode([s.text for s in document.sentences])
    claims = [REFERENCE_TITLE, "Barcelona beat Real Madrid 3-1"]
    stances = detector.detect(claims, document, vectors, encoder.encode(claims))
    assert stances[1].label == "unrelated"
    for stance in stances:
        assert sum(stance.scores.values()) == pytest.approx(1.0, abs=1e-6)
        assert 1 <= len(stance.evidence) <= 3
    assert np.isfinite(list(stances[0].scores.values())).all()


def test_a_missing_or_mismatched_delta_fails_loudly(delta_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="no cross-encoder delta"):
        StanceCrossEncoder.load(tmp_path, packaged_minilm_path())
    broken = tmp_path / "broken"
    shutil.copytree(delta_dir, broken)
    config = json.loads((broken / "cross_encoder.json").read_text(encoding="utf-8"))
    config["trained_prefixes"] = ["base.encoder.layer.4.", "head."]
    (broken / "cross_encoder.json").write_text(json.dumps(config), encoding="utf-8")
    with pytest.raises(ModelLoadError, match="does not fit"):
        TrainedStanceDetector.load(broken)
    (delta_dir / DELTA_FILE).read_bytes()  # the shared fixture is untouched
