"""The ONNX Runtime encoder: the packaged int8-stored MiniLM, the packaged tokenizer."""

from __future__ import annotations

import numpy as np
import pytest

from services.embeddings.minilm import packaged_minilm_path
from services.errors import ModelLoadError
from services.text.cleaning import clean_article

pytest.importorskip("onnxruntime")

from services.embeddings.onnx_runtime import OnnxSentenceEncoder, packaged_onnx_path  # noqa: E402
from worker.settings import WorkerSettings  # noqa: E402
from worker.wiring import build_encoder  # noqa: E402


@pytest.fixture(scope="module")
def onnx_encoder() -> OnnxSentenceEncoder:
    return OnnxSentenceEncoder(packaged_onnx_path(), packaged_minilm_path(), threads=1)


def test_vectors_are_close_to_the_fp32_reference(onnx_encoder, encoder, reference_text):
    sentences = [s.text for s in clean_article(reference_text).sentences]
    vectors = onnx_encoder.encode(sentences)
    reference = encoder.encode(sentences)
    assert vectors.shape == reference.shape
    cosines = (vectors * reference).sum(axis=1)
    assert cosines.mean() >= 0.999
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_empty_input_gives_no_rows(onnx_encoder):
    assert onnx_encoder.encode([]).shape == (0, 384)


def test_a_missing_model_file_fails_loudly(tmp_path):
    with pytest.raises(ModelLoadError, match="no ONNX model"):
        OnnxSentenceEncoder(tmp_path / "model.onnx", packaged_minilm_path())


def test_the_worker_builds_it_when_asked():
    encoder = build_encoder(
        WorkerSettings.from_env({"NEWSNLP_ENCODER": "onnx", "NEWSNLP_ENCODER_CACHE_SIZE": "0"})
    )
    assert isinstance(encoder, OnnxSentenceEncoder)
