"""Fit how the verifier's per-sentence verdicts become the article's stance, and ship both.

    .venv/bin/python -m evaluation.train_verdicts --verifier var/verifier [--model models/stance]

The verifier (`evaluation.train_verifier`'s delta) reads each related claim's evidence
sentences, found exactly as the service finds them (`top_evidence`: the 3 most similar
sentences, cosine >= 0.25 after the first); `services.stance.verdicts.verdict_features` turns
its verdicts, the similarities and the hedging cues into one row per claim, and a multinomial
logistic regression (`VerdictAggregator`) maps the row to agree / disagree / discuss. Two are
fitted: the trained backend's, whose rows also hold stage 2's probabilities (out of sample:
`evaluation.train_stance` writes them for its hold-out from the models fitted without it, to
var/cache/stance/holdout-lgb.npz; stage 2 never saw ARC), and a verdict-only one for other
verifiers (NLI).

Both are fitted on the FNC-1 train hold-out (whole body clusters, `evaluation.train_stance`'s
split) and ARC's aggregate cut (`claims_data.arc_part`), which the verifier never saw; the
regularisation and the decision's class weights are
chosen by 5-fold cross-validation grouped by body, for the three classes' macro-F1. With
`--write`, the delta is copied to `<model>/verifier/` and the manifest gains its `verifier`
entry; without it the figures are only printed.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import logging
import random
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from evaluation.contrasts import edited_claims
from evaluation.fnc_data import CACHE_DIR, REPO_ROOT, EmbeddingCache, Pair, body_groups
from services.stance.trained import MANIFEST, VERIFIER_FOLDER, TrainedStanceDetector
from services.stance.verdicts import (
    ARTICLE_LABELS,
    FEATURES,
    STAGE2_FEATURES,
    VerdictAggregator,
    verdict_features,
)

logger = logging.getLogger(__name__)

FOLDS = 5
C_GRID = (0.03, 0.3, 3.0)
WEIGHT_GRID = (0.6, 0.8, 1.0, 1.25, 1.6, 2.0, 2.5)


@dataclass(frozen=True)
class ClaimRows:
    """One row of `FEATURES` per claim, its gold label and its body (the CV group)."""

    x: np.ndarray
    gold: list[str]
    groups: list[int]
    keys: tuple[str, ...] = ()  # "headline ||| body id", as train_stance keys its hold-out
    stage2: np.ndarray | None = None  # the shipped stage 2's probabilities, where it never fit


def joined(a: ClaimRows, b: ClaimRows, same_bodies: bool = False) -> ClaimRows:
    """Both sets' rows; b's CV groups moved clear of a's unless they are the same bodies."""
    offset = 0 if same_bodies else max(a.groups) + 1
    return ClaimRows(
        np.vstack([a.x, b.x]), a.gold + b.gold, a.groups + [g + offset for g in b.groups]
    )


def contrast_claims(pairs: Sequence[Pair], bodies: dict[int, str], seed: int = 17) -> list[Pair]:
    """Each agree claim of `pairs` with one fact changed (`contrasts.edited_claims`), set
    against the same body as *disagree*: what a refuting verdict means for the article, which
    FNC-1 and ARC hardly show (their disagreements are debunks and opinions)."""
    rng = random.Random(seed)
    out = []
    for p in pairs:
        made = edited_claims(p.headline, bodies[p.body_id], rng) if p.stance == "agree" else []
        if made:
            out.append(Pair(rng.choice(made), p.body_id, "disagree"))
    return out


HOLDOUT_STAGE2 = CACHE_DIR / "holdout-lgb.npz"


def with_stage2(rows: ClaimRows, path: Path = HOLDOUT_STAGE2) -> ClaimRows:
    """The rows followed by stage 2's out-of-sample probabilities (`STAGE2_FEATURES`): their
    own where stage 2 never saw their set (ARC), else train_stance's hold-out ones (FNC-1)."""
    if rows.stage2 is not None:
        return ClaimRows(np.hstack([rows.x, rows.stage2]), rows.gold, rows.groups, rows.keys)
    if not path.is_file():
        raise SystemExit(f"{path} is missing: run `python -m evaluation.train_stance --out DIR`")
    saved = np.load(path)
    of = dict(zip((str(k) for k in saved["keys"]), saved["p_stage2"], strict=True))
    stage2 = np.array([of[k] for k in rows.keys])
    return ClaimRows(np.hstack([rows.x, stage2]), rows.gold, rows.groups, rows.keys)


def claim_rows(
    verifier, fingerprint: str, pairs, bodies, cache: EmbeddingCache, tag: str, stance=None
) -> ClaimRows:  # type: ignore[no-untyped-def]
    """Feature rows for the related `pairs`, the evidence found as the service finds it; the
    verifier's probabilities are cached by verifier and pairs. With `stance` (the shipped
    TrainedStanceDetector), its stage-2 probabilities come along."""
    from services.stance.similarity import top_evidence

    claims, texts, sims, gold, groups, keys, stage2 = [], [], [], [], [], [], []
    for group in body_groups(pairs, bodies, cache, tag):
        if stance is not None and group.document.sentences:
            _, p_stage2 = stance.stage_probabilities(
                group.claims, group.document, group.sentence_vectors, group.claim_vectors
            )
            stage2.extend(p_stage2)
        for row, claim, vector in zip(group.rows, group.claims, group.claim_vectors, strict=True):
            if not group.document.sentences:
                continue
            evidence = top_evidence(group.document, group.sentence_vectors @ vector, 3, 0.25)
            claims.append(claim)
            texts.append([e.text for e in evidence])
            sims.append([e.score for e in evidence])
            gold.append(pairs[row].stance)
            groups.append(pairs[row].body_id)
            keys.append(f"{pairs[row].headline} ||| {pairs[row].body_id}")
    flat_claims = [c for c, t in zip(claims, texts, strict=True) for _ in t]
    flat_texts = [s for t in texts for s in t]
    key = hashlib.sha256(json.dumps([fingerprint, flat_claims, flat_texts]).encode()).hexdigest()[
        :16
    ]
    path = CACHE_DIR / "verdicts" / f"{tag}-{key}.npy"
    if path.is_file():
        probs = np.load(path)
    else:
        logger.info("%s: %d claims, %d verifier pairs", tag, len(claims), len(flat_texts))
        probs = verifier.predict(flat_claims, flat_texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, probs)
    rows, at = [], 0
    for claim, t, s in zip(claims, texts, sims, strict=True):
        rows.append(verdict_features(claim, t, s, probs[at : at + len(t)]))
        at += len(t)
    return ClaimRows(
        np.array(rows), gold, groups, tuple(keys), np.array(stage2) if stance is not None else None
    )


def macro_f1(gold: Sequence[str], predicted: Sequence[str]) -> tuple[float, dict[str, float]]:
    from evaluation.train_verifier import macro_f1 as f1_over

    return f1_over(gold, predicted, ARTICLE_LABELS)


def decide(probs: np.ndarray, weights: Sequence[float]) -> list[str]:
    return [ARTICLE_LABELS[int(i)] for i in (probs * np.asarray(weights)).argmax(1)]


def fit(
    x: np.ndarray, y: Sequence[str], c: float, features: tuple[str, ...] = FEATURES
) -> VerdictAggregator:
    from sklearn.linear_model import LogisticRegression

    mean, scale = x.mean(0), x.std(0)
    scale[scale < 1e-9] = 1.0
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
    model.fit((x - mean) / scale, [ARTICLE_LABELS.index(v) for v in y])
    assert list(model.classes_) == [0, 1, 2], "every label must occur in the fitting rows"
    return VerdictAggregator(
        mean=tuple(float(v) for v in mean),
        scale=tuple(float(v) for v in scale),
        coef=tuple(tuple(float(v) for v in r) for r in model.coef_),
        intercept=tuple(float(v) for v in model.intercept_),
        features=features,
    )


def cross_validate(rows: ClaimRows, c: float) -> np.ndarray:
    """Out-of-fold probabilities, folds by body."""
    bodies = sorted(set(rows.groups))
    fold_of = {b: i % FOLDS for i, b in enumerate(np.random.default_rng(7).permutation(bodies))}
    folds = np.array([fold_of[g] for g in rows.groups])
    out = np.zeros((len(rows.gold), len(ARTICLE_LABELS)))
    for k in range(FOLDS):
        train, test = folds != k, folds == k
        agg = fit(rows.x[train], [g for g, t in zip(rows.gold, train, strict=True) if t], c)
        out[test] = agg.probabilities(rows.x[test])
    return out


def tune(
    rows: ClaimRows,
) -> tuple[float, tuple[float, float, float], dict[str, object], np.ndarray]:
    """The regularisation and decision weights with the best out-of-fold macro-F1, that
    figure, and the out-of-fold probabilities it was read from."""
    oof = {c: cross_validate(rows, c) for c in C_GRID}
    best: tuple[float, float, tuple[float, float, float]] | None = None
    for c in C_GRID:
        for wa, wd in itertools.product(WEIGHT_GRID, WEIGHT_GRID):
            weights = (wa, wd, 1.0)
            score, _ = macro_f1(rows.gold, decide(oof[c], weights))
            if best is None or score > best[0]:
                best = (score, c, weights)
    assert best is not None
    score, c, weights = best
    _, per = macro_f1(rows.gold, decide(oof[c], weights))
    logger.info("chosen C %s, weights %s: out-of-fold macro-F1 %.3f %s", c, weights, score, per)
    summary = {"macro_f1": round(score, 4), **{k: round(v, 4) for k, v in per.items()}}
    return c, weights, summary, oof[c]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verifier", type=Path, required=True, help="a train_verifier --out")
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "stance")
    parser.add_argument("--write", action="store_true", help="ship the verifier into --model")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    from evaluation.claims_data import arc_articles
    from evaluation.fnc_data import load_bodies, load_pairs
    from evaluation.train_stance import HOLDOUT_FRACTION, SEED, cluster_holdout, split_pairs
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.reference import SentenceEncoder
    from services.stance.cross import DELTA_FILE, StanceCrossEncoder

    verifier = StanceCrossEncoder.load(args.verifier, packaged_minilm_path())
    fingerprint = hashlib.sha256((args.verifier / DELTA_FILE).read_bytes()).hexdigest()
    cache = EmbeddingCache(SentenceEncoder(packaged_minilm_path()))
    bodies = load_bodies("train")
    pairs = load_pairs("train")
    held = cluster_holdout(pairs, sorted(bodies), HOLDOUT_FRACTION, SEED)
    _, hold = split_pairs(pairs, held)
    related = [p for p in hold if p.stance != "unrelated"]
    fnc = claim_rows(verifier, fingerprint, related, bodies, cache, "fnc-1 train hold-out")
    # Stages 1 and 2 only: the manifest's aggregator may be one of other features.
    shipped = TrainedStanceDetector.load(args.model, stages_only=True)  # never saw ARC
    made = contrast_claims(related, bodies)
    edited = claim_rows(verifier, fingerprint, made, bodies, cache, "edited claims", shipped)
    arc_pairs, arc_bodies = arc_articles("aggregate")
    arc_related = [p for p in arc_pairs if p.stance != "unrelated"]
    arc = claim_rows(verifier, fingerprint, arc_related, arc_bodies, cache, "arc", shipped)
    parts = (
        ("FNC-1 train hold-out", fnc),
        ("its agree claims with one fact changed", edited),
        ("ARC aggregate cut", arc),
    )
    fitted_on = []
    for name, part in parts:
        counts = {label: part.gold.count(label) for label in ARTICLE_LABELS}
        fitted_on.append(f"{name}: {len(part.gold)} related claims {counts}")
        logger.info(fitted_on[-1])
    rows = joined(joined(fnc, edited, same_bodies=True), arc)
    stacked = joined(
        joined(with_stage2(fnc), with_stage2(edited), same_bodies=True), with_stage2(arc)
    )
    c, weights, oof, oof_probs = tune(stacked)
    c_v, _, oof_v, _ = tune(rows)
    at = 0
    for name, part in parts:
        cut = slice(at, at + len(part.gold))
        at += len(part.gold)
        score, per = macro_f1(stacked.gold[cut], decide(oof_probs[cut], weights))
        logger.info("out of fold on %s alone: macro-F1 %.3f %s", name, score, per)
    entry = {
        "aggregator": fit(stacked.x, stacked.gold, c, FEATURES + STAGE2_FEATURES).to_json(),
        "verdict_aggregator": fit(rows.x, rows.gold, c_v).to_json(),
        "class_weights": list(weights),
        "fitted_on": "; ".join(fitted_on),
        "regularisation_c": c,
        "out_of_fold": oof,
        "out_of_fold_verdicts_only": oof_v,
    }
    print(json.dumps(entry, indent=2))
    if args.write:
        target = args.model / VERIFIER_FOLDER
        target.mkdir(parents=True, exist_ok=True)
        for name in (DELTA_FILE, "cross_encoder.json"):
            shutil.copy(args.verifier / name, target / name)
        manifest_path = args.model / MANIFEST
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        manifest["verifier"] = entry
        manifest_path.write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
        logger.info("verifier and aggregator written to %s", args.model)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
