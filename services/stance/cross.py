"""A MiniLM cross-encoder over (claim, evidence) pairs: the claim verifier (supports /
refutes / neutral per sentence) and the older agree / disagree / discuss blend of stage 2.

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

from services.errors import ModelLoadError

logger = logging.getLogger(__name__)

DELTA_FILE = "cross_encoder.safetensors"
CONFIG_FILE = "cross_encoder.json"


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

    def __init__(  # type: ignore[no-untyped-def]
        self,
        tokenizer,
        net: CrossEncoderNet,
        max_length: int = 128,
        labels: Sequence[str] = (),
        bfloat16: bool | None = None,
    ) -> None:
        """`bfloat16` (default: where the CPU computes it natively) runs the network under
        bfloat16 autocast, as the sentence encoder does."""
        from services.embeddings.batching import native_bfloat16

        self.tokenizer = tokenizer
        self.net = net
        self.net.eval()
        self.max_length = max_length
        self.labels = tuple(labels)
        self.bfloat16 = native_bfloat16() if bfloat16 is None else bfloat16

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
        return cls(tokenizer, net, int(config["max_length"]), labels=config["labels"])

    def predict(
        self, claims: Sequence[str], passages: Sequence[str], max_batch_tokens: int = 4096
    ) -> np.ndarray:
        """Probabilities per pair (rows in input order, columns in `labels` order); the pairs
        run in batches of similar length, never one at a time."""
        from services.embeddings.batching import plan_batches

        out = np.zeros((len(claims), self.net.head.out_features), dtype=np.float64)
        if not len(claims):
            return out
        encoded = self.tokenizer(
            list(claims), list(passages), truncation="only_second", max_length=self.max_length
        )
        ids, types = encoded["input_ids"], encoded["token_type_ids"]
        plan = plan_batches([len(x) for x in ids], max_batch_tokens=max_batch_tokens)
        with (
            torch.inference_mode(),
            torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bfloat16),
        ):
            for rows in plan:
                width = max(len(ids[r]) for r in rows)
                input_ids = torch.zeros((len(rows), width), dtype=torch.long)
                token_types = torch.zeros((len(rows), width), dtype=torch.long)
                mask = torch.zeros((len(rows), width), dtype=torch.long)
                for j, r in enumerate(rows):
                    n = len(ids[r])
                    input_ids[j, :n] = torch.tensor(ids[r])
                    token_types[j, :n] = torch.tensor(types[r])
                    mask[j, :n] = 1
                logits = self.net(input_ids, mask, token_types)
                out[list(rows)] = torch.softmax(logits.float(), dim=-1).numpy()
        return out
