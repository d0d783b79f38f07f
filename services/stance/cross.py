"""A MiniLM cross-encoder for agree / disagree / discuss over (claim, best-matching sentences).

It is shipped as a delta over the packaged all-MiniLM-L6-v2: only the fine-tuned top layers
(fp16) and the classification head are stored (`cross_encoder.safetensors`); the rest of the
network is the packaged encoder's, loaded from its own folder.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer

from services.documents import Document
from services.errors import ModelLoadError

logger = logging.getLogger(__name__)

DELTA_FILE = "cross_encoder.safetensors"
CONFIG_FILE = "cross_encoder.json"


def evidence_passage(document: Document, similarities: np.ndarray, k: int = 3) -> str:
    """The k sentences most similar to the claim, most similar first, as one passage."""
    order = np.argsort(-similarities, kind="stable")[:k]
    return " ".join(document.sentences[int(i)].text for i in order)


class CrossEncoderNet(torch.nn.Module):
    """MiniLM with a linear head on the mean-pooled last layer (the encoder's own pooling)."""

    def __init__(self, base: torch.nn.Module, n_labels: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.base = base
        self.dropout = torch.nn.Dropout(dropout)
        hidden_size = int(base.config.hidden_size)  # type: ignore[union-attr, arg-type]
        self.head = torch.nn.Linear(hidden_size, n_labels)

    def pool_and_classify(self, hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        m = mask.unsqueeze(-1).to(hidden.dtype)
        pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
        return self.head(self.dropout(pooled))

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
    ) -> torch.Tensor:
        hidden = self.base(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        ).last_hidden_state
        return self.pool_and_classify(hidden, attention_mask)


def trainable_prefixes(n_layers: int, total_layers: int) -> tuple[str, ...]:
    return tuple(
        f"base.encoder.layer.{i}." for i in range(total_layers - n_layers, total_layers)
    ) + ("head.",)


def save_delta(
    net: CrossEncoderNet,
    folder: str | Path,
    trained_prefixes: Sequence[str],
    labels: Sequence[str],
    max_length: int,
    extra: dict[str, object] | None = None,
) -> None:
    """Write the trained parameters (fp16) and the config that `StanceCrossEncoder.load` reads."""
    from safetensors.torch import save_file

    folder = Path(folder)
    prefixes = tuple(trained_prefixes)
    delta = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in net.state_dict().items()
        if k.startswith(prefixes)
    }
    save_file(delta, str(folder / DELTA_FILE))
    config = {
        "labels": list(labels),
        "max_length": max_length,
        "trained_prefixes": list(prefixes),
        **(extra or {}),
    }
    (folder / CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")


class StanceCrossEncoder:
    """Probabilities of (agree, disagree, discuss) for claims against evidence passages."""

    def __init__(self, tokenizer, net: CrossEncoderNet, max_length: int = 128) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.net = net
        self.net.eval()
        self.max_length = max_length

    @classmethod
    def load(cls, folder: str | Path, base_model_path: str | Path) -> StanceCrossEncoder:
        """The packaged encoder plus the delta in `folder`; ModelLoadError when unusable."""
        from safetensors.torch import load_file

        folder, base = Path(folder), Path(base_model_path)
        if not (folder / DELTA_FILE).is_file() or not (folder / CONFIG_FILE).is_file():
            raise ModelLoadError(f"no cross-encoder delta in {folder}")
        if not (base / "config.json").is_file():
            raise ModelLoadError(f"no base transformer model in {base}")
        try:
            config = json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
            tokenizer = AutoTokenizer.from_pretrained(str(base), local_files_only=True)
            net = CrossEncoderNet(
                AutoModel.from_pretrained(str(base), local_files_only=True),
                n_labels=len(config["labels"]),
            )
            delta = load_file(str(folder / DELTA_FILE))
        except (OSError, ValueError, KeyError) as exc:
            raise ModelLoadError(f"cross-encoder delta in {folder} is unreadable: {exc}") from exc
        state = net.state_dict()
        expected = {k for k in state if k.startswith(tuple(config["trained_prefixes"]))}
        if set(delta) != expected or any(delta[k].shape != state[k].shape for k in delta):
            raise ModelLoadError(f"cross-encoder delta in {folder} does not fit the base model")
        net.load_state_dict({k: v.float() for k, v in delta.items()}, strict=False)
        logger.info("loaded stance cross-encoder delta from %s", folder)
        return cls(tokenizer, net, int(config["max_length"]))

    def encode_pairs(
        self, claims: Sequence[str], passages: Sequence[str]
    ) -> dict[str, torch.Tensor]:
        return self.tokenizer(
            list(claims),
            list(passages),
            padding=True,
            truncation="only_second",
            max_length=self.max_length,
            return_tensors="pt",
        )

    def predict(
        self, claims: Sequence[str], passages: Sequence[str], batch_size: int = 32
    ) -> np.ndarray:
        out = np.zeros((len(claims), self.net.head.out_features), dtype=np.float64)
        with torch.inference_mode():
            for b in range(0, len(claims), batch_size):
                batch = self.encode_pairs(claims[b : b + batch_size], passages[b : b + batch_size])
                logits = self.net(
                    batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]
                )
                out[b : b + batch_size] = torch.softmax(logits.float(), dim=-1).numpy()
        return out
