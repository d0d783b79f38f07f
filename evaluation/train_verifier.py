"""`make train-verifier`: fine-tune the claim verifier (MiniLM cross-encoder, 3 verdicts).

    .venv/bin/python -m evaluation.train_verifier [--out models/stance/verifier] [--epochs 1]

The packaged all-MiniLM-L6-v2 with a linear head on its mean-pooled last layer
(`services.stance.cross.CrossEncoderNet`), fed (claim, evidence) and trained to say whether
the evidence supports the claim, refutes it or leaves it open, on `evaluation.claims_data`'s
fitting pairs. The embeddings and the lowest layers stay frozen; the top layers and the head
are trained in bfloat16 autocast where the CPU has it, in length-sorted batches. The
tokenized pairs are cached under var/cache/verifier, and a checkpoint is written every few
hundred steps there: a restarted run resumes where it stopped. At the end the hold-outs are
scored and the delta (the trained layers in fp16 plus the head) is written to `--out`.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from evaluation.claims_data import (
    VERDICTS,
    VerifyPair,
    arc,
    climate_fever,
    covidfact,
    fever_symmetric,
    fnc_train,
    healthver,
    holdout_sets,
    snli,
)
from evaluation.contrasts import contrast_pairs, sentence_contrasts
from evaluation.fnc_data import REPO_ROOT

logger = logging.getLogger(__name__)

CACHE = REPO_ROOT / "var" / "cache" / "verifier"
MAX_LENGTH = 128
SEED = 20261202


def training_pairs(sentence_claims: bool = False) -> list[VerifyPair]:
    """The verifier's fitting pairs; no hold-out or test pair is among them. The claims made
    from news sentences (`sentence_claims`) are off by default: they raised FEVER-Symmetric
    and Climate-FEVER but cost agree on the FNC-1 hold-out (README)."""
    fnc = fnc_train(hold=False, max_neutral=2500)
    arc_fit = arc("fit")
    supported = {(p.claim, p.evidence): p for p in fnc + arc_fit if p.verdict == "supports"}
    return [
        *snli("dev"),
        *fever_symmetric("v0.1_full"),
        *climate_fever(hold=False, max_neutral=1500),
        *healthver("dev"),
        *covidfact("train"),
        *arc_fit,
        *fnc,
        *contrast_pairs(supported.values()),
        *(sentence_contrasts() if sentence_claims else []),
    ]


def tokenize(tokenizer, pairs: Sequence[VerifyPair]) -> list[list[int]]:  # type: ignore[no-untyped-def]
    """Token ids of each (claim, evidence), the evidence truncated to fit MAX_LENGTH."""
    encoded = tokenizer(
        [p.claim for p in pairs],
        [p.evidence for p in pairs],
        truncation="only_second",
        max_length=MAX_LENGTH,
    )
    return [
        list(zip(i, t, strict=True))
        for i, t in zip(encoded["input_ids"], encoded["token_type_ids"], strict=True)
    ]


def cached_tokens(tokenizer, pairs: Sequence[VerifyPair], name: str) -> list[list[int]]:  # type: ignore[no-untyped-def]
    key = hashlib.sha256(
        json.dumps([(p.claim, p.evidence) for p in pairs], ensure_ascii=False).encode()
    ).hexdigest()[:16]
    path = CACHE / f"tokens-{name}-{key}.json"
    if path.is_file():
        return json.loads(path.read_text())
    tokens = tokenize(tokenizer, pairs)
    CACHE.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(tokens))
    return tokens


def batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Length-sorted batches (little padding) in a shuffled order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    out = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    rng.shuffle(out)
    return out


def collate(tokens: Sequence[list[list[int]]], rows: Sequence[int]) -> dict[str, torch.Tensor]:
    width = max(len(tokens[r]) for r in rows)
    ids = torch.zeros((len(rows), width), dtype=torch.long)
    types = torch.zeros((len(rows), width), dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for j, r in enumerate(rows):
        pairs = tokens[r]
        ids[j, : len(pairs)] = torch.tensor([p[0] for p in pairs])
        types[j, : len(pairs)] = torch.tensor([p[1] for p in pairs])
        mask[j, : len(pairs)] = 1
    return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}


def autocast_dtype() -> torch.dtype | None:
    from services.embeddings.batching import native_bfloat16

    return torch.bfloat16 if native_bfloat16() else None


def predict(net, tokens: Sequence[list[list[int]]], batch_size: int = 64) -> np.ndarray:  # type: ignore[no-untyped-def]
    net.eval()
    out = np.zeros((len(tokens), len(VERDICTS)))
    dtype = autocast_dtype()
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    with (
        torch.inference_mode(),
        torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None),
    ):
        for b in range(0, len(order), batch_size):
            rows = order[b : b + batch_size]
            logits = net(**collate(tokens, rows))
            out[rows] = torch.softmax(logits.float(), dim=-1).numpy()
    return out


def macro_f1(
    gold: Sequence[str], predicted: Sequence[str], labels: Sequence[str] | None = None
) -> tuple[float, dict[str, float]]:
    """Macro-F1 over `labels` (default: those the gold labels hold) and each label's F1."""
    per = {}
    for label in labels if labels is not None else sorted(set(gold)):
        tp = sum(g == p == label for g, p in zip(gold, predicted, strict=True))
        fp = sum(p == label != g for g, p in zip(gold, predicted, strict=True))
        fn = sum(g == label != p for g, p in zip(gold, predicted, strict=True))
        per[label] = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
    return sum(per.values()) / len(per), per


def score(net, tokenizer, sets: dict[str, list[VerifyPair]]) -> dict[str, dict[str, float]]:  # type: ignore[no-untyped-def]
    figures = {}
    for name, pairs in sets.items():
        probs = predict(net, tokenize(tokenizer, pairs))
        predicted = [VERDICTS[i] for i in probs.argmax(1)]
        if not {p.verdict for p in pairs} & {"neutral"}:  # two-way sets: neutral never gold
            two = probs[:, :2].argmax(1)
            predicted = [VERDICTS[i] for i in two]
        gold = [p.verdict for p in pairs]
        accuracy = sum(g == p for g, p in zip(gold, predicted, strict=True)) / len(gold)
        mf1, per = macro_f1(gold, predicted)
        figures[name] = {"n": len(gold), "accuracy": accuracy, "macro_f1": mf1, **per}
        logger.info("%s: accuracy %.3f macro-F1 %.3f %s", name, accuracy, mf1, per)
    return figures


def build_net(trained_layers: int):  # type: ignore[no-untyped-def]
    from transformers import AutoModel

    from services.embeddings.minilm import packaged_minilm_path
    from services.stance.cross import CrossEncoderNet, trainable_prefixes

    base = AutoModel.from_pretrained(str(packaged_minilm_path()), local_files_only=True)
    net = CrossEncoderNet(base, n_labels=len(VERDICTS))
    total = int(base.config.num_hidden_layers)
    prefixes = trainable_prefixes(trained_layers, total)
    for name, param in net.named_parameters():
        param.requires_grad = name.startswith(prefixes)
    return net, prefixes


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO_ROOT / "models" / "stance" / "verifier"))
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--layers", type=int, default=4, help="top layers trained")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--lr", type=float, default=4e-5)
    parser.add_argument("--checkpoint-every", type=int, default=200)
    parser.add_argument("--limit", type=int, default=0, help="fit on this many pairs (a smoke run)")
    parser.add_argument(
        "--sentence-claims", action="store_true", help="add the claims made from news sentences"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.manual_seed(SEED)
    from transformers import AutoTokenizer

    from services.embeddings.minilm import packaged_minilm_path
    from services.stance.cross import save_delta

    tokenizer = AutoTokenizer.from_pretrained(str(packaged_minilm_path()), local_files_only=True)
    pairs = training_pairs(args.sentence_claims)
    random.Random(SEED).shuffle(pairs)
    if args.limit:
        pairs = pairs[: args.limit]
    tokens = cached_tokens(tokenizer, pairs, "fit")
    labels = torch.tensor([VERDICTS.index(p.verdict) for p in pairs])
    counts = torch.bincount(labels, minlength=len(VERDICTS)).float()
    weights = counts.sum() / (len(VERDICTS) * counts)
    logger.info("%d fitting pairs, verdicts %s", len(pairs), counts.tolist())

    net, prefixes = build_net(args.layers)
    params = [p for p in net.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=0.01)
    rng = random.Random(SEED)
    epoch_batches = [
        batches([len(t) for t in tokens], args.batch_size, rng)
        for _ in range(math.ceil(args.epochs))
    ]
    plan = [b for epoch in epoch_batches for b in epoch][: int(args.epochs * len(epoch_batches[0]))]
    total_steps = len(plan)
    warmup = max(1, total_steps // 20)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer,
        lambda s: min((s + 1) / warmup, max(0.0, (total_steps - s) / (total_steps - warmup))),
    )
    # The run is keyed by its data as well as its settings: a checkpoint of other pairs
    # (changed data code, another --limit) is never resumed.
    data_key = hashlib.sha256(
        json.dumps([(p.claim, p.evidence, p.verdict) for p in pairs]).encode()
    ).hexdigest()[:12]
    run_key = hashlib.sha256(
        f"{data_key} {args.layers} {args.batch_size} {args.lr} {args.epochs}".encode()
    ).hexdigest()[:12]
    checkpoint = CACHE / f"checkpoint-{run_key}.pt"
    step = 0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        net.load_state_dict(state["net"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step = state["step"]
        logger.info("resumed at step %d of %d", step, total_steps)
    loss_fn = torch.nn.CrossEntropyLoss(weight=weights)
    dtype = autocast_dtype()
    net.train()
    started, seen, running = time.monotonic(), 0, 0.0
    while step < total_steps:
        rows = plan[step]
        with torch.autocast("cpu", dtype=dtype or torch.float32, enabled=dtype is not None):
            logits = net(**collate(tokens, rows))
        loss = loss_fn(logits.float(), labels[rows])
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        seen += len(rows)
        value = float(loss.detach())
        running = 0.98 * running + 0.02 * value if step > 1 else value
        if step % 50 == 0:
            rate = seen / (time.monotonic() - started)
            logger.info("step %d/%d loss %.3f, %.1f pairs/s", step, total_steps, running, rate)
        if step % args.checkpoint_every == 0 or step == total_steps:
            CACHE.mkdir(parents=True, exist_ok=True)
            torch.save(
                {
                    "net": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                },
                checkpoint,
            )
    minutes = (time.monotonic() - started) / 60
    figures = score(net, tokenizer, holdout_sets())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    save_delta(
        net,
        out,
        prefixes,
        VERDICTS,
        MAX_LENGTH,
        extra={
            "pairs": len(pairs),
            "sources": dict(sorted(Counter(p.source for p in pairs).items())),
            "epochs": args.epochs,
            "train_minutes_this_run": round(minutes, 1),
            "holdouts": figures,
        },
    )
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
