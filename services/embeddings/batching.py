"""Length-bucketed token batches for the sentence encoders, and the encoder protocol."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

import numpy as np

from services.errors import ModelLoadError

logger = logging.getLogger(__name__)

DTYPES = ("float32", "bfloat16")

T = TypeVar("T")


def native_bfloat16() -> bool:
    """Whether this CPU computes bfloat16 dot products natively (AVX512-BF16 or AMX on x86,
    the BF16 extension on Arm); elsewhere bfloat16 is emulated and slower than float32."""
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[-1].split())
    return bool(flags & {"avx512_bf16", "amx_bf16", "bf16"})


class TextEncoder(Protocol):
    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class EncoderBatch:
    """Token ids of some texts, padded to the longest; `rows` are the texts' input positions."""

    rows: tuple[int, ...]
    input_ids: np.ndarray  # int64, (batch, length)
    attention_mask: np.ndarray  # int64, (batch, length)

    @property
    def tokens(self) -> int:
        """Real (not padding) tokens, [CLS] and [SEP] included."""
        return int(self.attention_mask.sum())


def plan_batches(
    lengths: Sequence[int], *, max_batch_tokens: int = 8192, max_batch_size: int = 128,
    max_padding: float = 0.4,
) -> list[list[int]]:  # fmt: skip
    """Group text indices into batches, shortest texts first.

    A batch closes when one more text would take its padded size (count x longest) over
    `max_batch_tokens`, its count over `max_batch_size`, or its padding over `max_padding`
    of the padded size.
    """
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
    batches: list[list[int]] = []
    current: list[int] = []
    real = 0
    for i in order:
        n = lengths[i]
        padded = (len(current) + 1) * n  # sorted ascending: the new text is the longest
        if current and (
            padded > max_batch_tokens
            or len(current) >= max_batch_size
            or padded - (real + n) > max_padding * padded
        ):
            batches.append(current)
            current, real = [], 0
        current.append(i)
        real += n
    if current:
        batches.append(current)
    return batches


class TokenBatcher:
    """Tokenizes with the model folder's `tokenizer.json` and plans padded batches."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        max_length: int = 128,
        max_batch_tokens: int = 8192,
        max_batch_size: int = 128,
        max_padding: float = 0.4,
    ) -> None:
        from tokenizers import Tokenizer

        path = Path(model_path) / "tokenizer.json"
        if not path.is_file():
            raise ModelLoadError(f"no tokenizer.json in {model_path}")
        self.tokenizer = Tokenizer.from_file(str(path))
        self.tokenizer.enable_truncation(max_length)
        self.tokenizer.no_padding()
        self.max_length = max_length
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_size = max_batch_size
        self.max_padding = max_padding

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts))]

    def plan(self, texts: Sequence[str]) -> list[EncoderBatch]:
        ids = self.token_ids(texts)
        groups = plan_batches(
            [len(x) for x in ids],
            max_batch_tokens=self.max_batch_tokens,
            max_batch_size=self.max_batch_size,
            max_padding=self.max_padding,
        )
        batches = []
        for rows in groups:
            width = max(len(ids[i]) for i in rows)
            input_ids = np.zeros((len(rows), width), dtype=np.int64)
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for r, i in enumerate(rows):
                input_ids[r, : len(ids[i])] = ids[i]
                mask[r, : len(ids[i])] = 1
            batches.append(EncoderBatch(tuple(rows), input_ids, mask))
        return batches


def split_batch(batch: EncoderBatch, parts: int) -> list[EncoderBatch]:
    """`batch` dealt into at most `parts` batches (rows 0, k, 2k... to the first, and so on),
    each cut to its own longest text. Rows are sorted by length, so the parts are alike."""
    out = []
    for k in range(min(parts, len(batch.rows))):
        picked = list(range(k, len(batch.rows), parts))
        mask = batch.attention_mask[picked]
        width = int(mask.sum(axis=1).max())
        out.append(
            EncoderBatch(
                tuple(batch.rows[i] for i in picked),
                np.ascontiguousarray(batch.input_ids[picked, :width]),
                np.ascontiguousarray(mask[:, :width]),
            )
        )
    return out


def mean_pool(hidden: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Mean over real tokens, then L2-normalised: the sentence-transformers recipe."""
    m = mask[..., None].astype(np.float32)
    pooled = (hidden * m).sum(axis=1) / np.clip(m.sum(axis=1), 1e-9, None)
    norms = np.linalg.norm(pooled, axis=1, keepdims=True)
    return (pooled / np.clip(norms, 1e-12, None)).astype(np.float32)
