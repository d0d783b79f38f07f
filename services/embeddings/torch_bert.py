"""Sentence encoders tuned for throughput: length-bucketed batches, bfloat16, a vector cache.

`TorchSentenceEncoder` computes the same mean-pooled, L2-normalised all-MiniLM-L6-v2 vectors
as `services.embeddings.reference.SentenceEncoder`, with three differences that only change speed:

- the network is a lean BERT forward (`BertNet`, the checkpoint's own weights read from
  `model.safetensors`): no `transformers` model code in the worker (its import alone pulls
  in some 1,400 modules, ~120 MB per process), the query/key/value projections in one matmul,
  attention by `scaled_dot_product_attention`;
- texts are tokenized once with the model's own fast tokenizer (`tokenizer.json`), sorted by
  token count, and cut into batches that pad little (`plan_batches`): a batch of 64 news
  sentences padded to its longest one is about half padding;
- the weights may run in bfloat16 (`dtype="bfloat16"`), which CPUs with AVX512-BF16 or AMX
  compute at about twice the fp32 rate; pooling and normalisation stay in float32;
- with `threads` > 1, each batch is dealt into that many interleaved parts and the parts run
  on the encoder's own threads, one torch thread each (`split_batch`): the threads meet once
  per text list instead of at every operation, as torch's intra-op threads do, so a busy
  neighbour on one core (the API, Redis, the queue) costs the CPU it takes and no more;
- `CachingEncoder` keeps the vectors of texts already seen (content hash, bounded LRU), so a
  resubmitted article or a repeated claim is not embedded again.

Every encoder here has `encode(texts) -> np.ndarray` (rows of unit length, input order) and
exposes its batches (`plan`), forward pass (`forward`) and how it runs them (`map`) so that a
benchmark can time the model alone on exactly the batches the service runs, as it runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from services.embeddings.batching import (
    DTYPES,
    EncoderBatch,
    T,
    TokenBatcher,
    mean_pool,
    split_batch,
)
from services.embeddings.minilm import EMBEDDING_DIM
from services.errors import ModelLoadError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BertConfig:
    hidden_size: int = 384
    num_hidden_layers: int = 6
    num_attention_heads: int = 12
    intermediate_size: int = 1536
    layer_norm_eps: float = 1e-12
    max_position_embeddings: int = 512

    @classmethod
    def read(cls, path: Path) -> BertConfig:
        import json

        raw = json.loads((path / "config.json").read_text(encoding="utf-8"))
        if raw.get("model_type") != "bert" or raw.get("hidden_act", "gelu") != "gelu":
            raise ModelLoadError(f"{path} is not a BERT with GELU: this encoder cannot run it")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ModelLoadError(f"{path}: only absolute position embeddings are supported")
        names = cls.__dataclass_fields__
        return cls(**{k: v for k, v in raw.items() if k in names})


def dense_rows(tokens: int) -> int:
    """The rows the dense layers run for `tokens` real tokens: rounded up to a multiple of
    64 (of 128 past 1,024, of 256 past 2,048, of 512 past 4,096): 40 shapes up to 8,192
    tokens instead of one per token count, for fewer than 64 extra rows (1/8 past 1,024)."""
    step = 64
    while step < 512 and tokens > 16 * step:
        step *= 2
    return -(-tokens // step) * step


def _bert_net(path: Path, dtype: str, few_shapes: bool) -> Any:
    """A BERT encoder (no pooler) with the weights of `path/model.safetensors`; with
    `few_shapes`, its dense layers run `dense_rows` rows (the real tokens, then extra rows)."""
    import torch
    from safetensors.torch import load_file
    from torch import nn
    from torch.nn import functional as F  # noqa: N812 - torch's own convention

    config = BertConfig.read(path)
    heads, hidden = config.num_attention_heads, config.hidden_size
    eps = config.layer_norm_eps

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.Linear(hidden, 3 * hidden)
            self.attention_out = nn.Linear(hidden, hidden)
            self.attention_norm = nn.LayerNorm(hidden, eps=eps)
            self.intermediate = nn.Linear(hidden, config.intermediate_size)
            self.out = nn.Linear(config.intermediate_size, hidden)
            self.out_norm = nn.LayerNorm(hidden, eps=eps)

        def forward(self, x: torch.Tensor, padding: Padding) -> torch.Tensor:
            # x holds the real tokens, (rows, hidden), then with few_shapes extra rows that
            # nothing reads: the dense layers never see padding; attention alone works on
            # the padded (batch, length) layout, built from the real rows.
            qkv = padding.pad(self.qkv(x)).view(padding.b, padding.n, 3, heads, hidden // heads)
            q, k, v = qkv.permute(2, 0, 3, 1, 4)
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=padding.mask)
            context = padding.unpad(context.transpose(1, 2).reshape(-1, hidden))
            x = self.attention_norm(x + self.attention_out(context))
            return self.out_norm(x + self.out(F.gelu(self.intermediate(x))))

    class Padding:
        """Where the real tokens of a padded batch are, to move rows between the layouts.

        The dense layers see `rows` rows: the real tokens, then (with `few_shapes`) extra
        rows up to a size of `dense_rows`, zeros at first, which `pad` leaves out."""

        def __init__(self, attention_mask: torch.Tensor) -> None:
            self.b, self.n = attention_mask.shape
            keep = attention_mask.reshape(-1).bool()
            self.full = bool(keep.all())
            self.index = None if self.full else keep.nonzero().squeeze(1)
            self.real = self.b * self.n if self.index is None else len(self.index)
            self.rows = dense_rows(self.real) if few_shapes else self.real
            # Keys that are real tokens; a batch without padding needs no mask (faster kernel).
            self.mask = None if self.full else attention_mask.bool()[:, None, None, :]

        def pad(self, rows: torch.Tensor) -> torch.Tensor:
            """(rows, hidden) -> (batch x length, hidden), zeros at padded positions."""
            real = rows[: self.real]
            if self.index is None:
                return real
            out = rows.new_zeros(self.b * self.n, rows.shape[1])
            return out.index_copy_(0, self.index, real)

        def unpad(self, padded: torch.Tensor) -> torch.Tensor:
            """(batch x length, hidden) -> (rows, hidden): the real tokens, then zero rows."""
            if self.index is None and self.rows == self.real:
                return padded
            out = padded.new_zeros(self.rows, padded.shape[1])
            if self.index is None:
                out[: self.real] = padded
            else:
                torch.index_select(padded, 0, self.index, out=out[: self.real])
            return out

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.word = nn.Embedding(30522, hidden)
            self.position = nn.Embedding(config.max_position_embeddings, hidden)
            self.token_type = nn.Embedding(2, hidden)
            self.norm = nn.LayerNorm(hidden, eps=eps)
            self.layers = nn.ModuleList(Layer() for _ in range(config.num_hidden_layers))

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            """The last hidden state, (batch, length, hidden), zeros at padded positions."""
            padding = Padding(attention_mask)
            n = input_ids.shape[1]
            x = self.word(input_ids) + self.position.weight[:n] + self.token_type.weight[0]
            x = self.norm(padding.unpad(x.reshape(-1, hidden)))
            for layer in self.layers:
                x = layer(x, padding)
            return padding.pad(x).view(padding.b, n, hidden)

    weights = load_file(str(path / "model.safetensors"))
    state: dict[str, torch.Tensor] = {}
    try:
        w = {k.removeprefix("bert."): v for k, v in weights.items()}
        state["word.weight"] = w["embeddings.word_embeddings.weight"]
        state["position.weight"] = w["embeddings.position_embeddings.weight"]
        state["token_type.weight"] = w["embeddings.token_type_embeddings.weight"]
        state["norm.weight"] = w["embeddings.LayerNorm.weight"]
        state["norm.bias"] = w["embeddings.LayerNorm.bias"]
        for i in range(config.num_hidden_layers):
            src, dst = f"encoder.layer.{i}.", f"layers.{i}."
            for part in ("weight", "bias"):
                state[dst + "qkv." + part] = torch.cat(
                    [w[f"{src}attention.self.{name}.{part}"] for name in ("query", "key", "value")]
                )
                state[dst + "attention_out." + part] = w[f"{src}attention.output.dense.{part}"]
                state[dst + "attention_norm." + part] = w[f"{src}attention.output.LayerNorm.{part}"]
                state[dst + "intermediate." + part] = w[f"{src}intermediate.dense.{part}"]
                state[dst + "out." + part] = w[f"{src}output.dense.{part}"]
                state[dst + "out_norm." + part] = w[f"{src}output.LayerNorm.{part}"]
    except KeyError as exc:
        raise ModelLoadError(f"{path}/model.safetensors has no weight {exc}") from None
    net = Net()
    if state["word.weight"].shape[0] != net.word.num_embeddings:
        net.word = nn.Embedding(state["word.weight"].shape[0], hidden)
    net.load_state_dict(state)
    del weights, state
    return net.to(getattr(torch, dtype)).eval()


class TorchSentenceEncoder:
    """all-MiniLM-L6-v2 on torch, in float32 or bfloat16, with padding-aware batches."""

    def __init__(
        self,
        model_path: str | Path,
        *,
        dtype: str = "float32",
        max_length: int = 128,
        max_batch_tokens: int = 8192,
        max_batch_size: int = 128,
        max_padding: float = 0.4,
        threads: int = 1,
        few_shapes: bool | None = None,
    ) -> None:
        """`threads` > 1: batches are split and run on that many threads of the encoder's
        own; the caller then gives torch one intra-op thread (`torch.set_num_threads(1)`),
        or the threads would oversubscribe the cores.

        `few_shapes` (default: in bfloat16) rounds the dense layers' rows up to a few sizes
        (`dense_rows`): bfloat16 products run on oneDNN, which compiles a kernel for every new
        shape (~2 ms each with AMX), and a batch's real-token count is nearly always new.
        float32 products run on MKL, where a new shape costs nothing and the rows would."""
        import torch

        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
        path = Path(model_path)
        if not (path / "config.json").is_file() or not (path / "model.safetensors").is_file():
            raise ModelLoadError(f"no transformer model (config.json, model.safetensors) in {path}")
        self.model_path = path
        self.dtype = dtype
        self.batcher = TokenBatcher(
            path,
            max_length=max_length,
            max_batch_tokens=max_batch_tokens,
            max_batch_size=max_batch_size,
            max_padding=max_padding,
        )
        self.model = _bert_net(
            path, dtype, dtype == "bfloat16" if few_shapes is None else few_shapes
        )
        self._torch = torch
        self.threads = max(1, threads)
        self._pool = (
            ThreadPoolExecutor(self.threads, thread_name_prefix="encoder")
            if self.threads > 1
            else None
        )
        logger.info(
            "loaded sentence encoder from %s (torch, %s, %d threads)", path, dtype, self.threads
        )

    def plan(self, texts: Sequence[str]) -> list[EncoderBatch]:
        """The batches `encode` runs: with several threads, each planned batch split into one
        part per thread, largest first (so that the threads finish together)."""
        batches = self.batcher.plan(texts)
        if self.threads == 1:
            return batches
        parts = [part for batch in batches for part in split_batch(batch, self.threads)]
        return sorted(parts, key=lambda b: b.input_ids.size, reverse=True)

    def map(self, func: Callable[[EncoderBatch], T], batches: Sequence[EncoderBatch]) -> list[T]:
        """`func` of each batch, in order; on the encoder's threads when it has several."""
        if self._pool is None:
            return [func(batch) for batch in batches]
        return list(self._pool.map(func, batches))

    def forward(self, batch: EncoderBatch) -> np.ndarray:
        """The model's last hidden state of one batch, as float32 (batch, length, 384)."""
        torch = self._torch
        with torch.inference_mode():
            hidden = self.model(
                torch.from_numpy(batch.input_ids), torch.from_numpy(batch.attention_mask)
            )
            return hidden.float().numpy()

    def embed(self, batch: EncoderBatch) -> np.ndarray:
        """The unit vectors of one batch's texts."""
        return mean_pool(self.forward(batch), batch.attention_mask)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        batches = self.plan(texts)
        for batch, vectors in zip(batches, self.map(self.embed, batches), strict=True):
            out[list(batch.rows)] = vectors
        return out

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
