"""From per-sentence verdicts to an article's stance toward a claim.

A verifier (the trained MiniLM cross-encoder, or an external NLI model) says of each evidence
sentence whether it *supports* the claim, *refutes* it or leaves it *neutral*. The article's
stance among agree / disagree / discuss is a small multinomial logistic regression over those
verdicts, the sentences' similarity to the claim and cues of hedged reporting ("reportedly",
"officials said"): a plain report of the claim is agree, a report of its opposite disagree,
hedged or partial reporting discuss. The trained backend's aggregator also reads its stage-2
probabilities (`STAGE2_FEATURES`: the article-level view of the same claim); the verdict-only
one serves any other verifier (an NLI model). Both are fitted by `evaluation.train_verdicts`
and stored in the stance model's manifest.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from services.documents import Evidence
from services.stance.features import HEDGING, NEGATION, REFUTING, tokenize

VERDICTS: tuple[str, ...] = ("supports", "refutes", "neutral")
ARTICLE_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss")
# How a verdict reads as the article's label when it decides it.
LABEL_OF_VERDICT = {"supports": "agree", "refutes": "disagree", "neutral": "discuss"}

FEATURES: tuple[str, ...] = (
    "top_supports",
    "top_refutes",
    "max_supports",
    "max_refutes",
    "mean_supports",
    "mean_refutes",
    "best_similarity",
    "hedge_evidence",
    "hedge_claim",
    "refute_cue_evidence",
    "negation_claim",
    "question_claim",
)
# The trained stance model's stage-2 agree / disagree / discuss probabilities for the claim.
STAGE2_FEATURES: tuple[str, ...] = ("stage2_agree", "stage2_disagree", "stage2_discuss")


def _cue_rate(text: str, cues: frozenset[str]) -> float:
    tokens = tokenize(text)
    return sum(t in cues for t in tokens) / max(1, len(tokens)) * 10.0


def verdict_features(
    claim: str,
    texts: Sequence[str],
    similarities: Sequence[float] | np.ndarray,
    verdicts: np.ndarray | Sequence[Sequence[float]],
    stage2: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """One row of `FEATURES` for a claim and its evidence sentences (most similar first);
    `verdicts` holds their (supports, refutes, neutral) probabilities. With `stage2` (the
    stage-2 probabilities), the row goes on with `STAGE2_FEATURES`."""
    tail = [] if stage2 is None else [float(p) for p in stage2]
    v = np.asarray(verdicts, dtype=np.float64).reshape(-1, len(VERDICTS))
    if len(v) == 0:
        return np.array([0.0] * len(FEATURES) + tail)
    sims = np.clip(np.asarray(similarities, dtype=np.float64), 1e-3, None)
    weights = sims / sims.sum()
    best_support = int(v[:, 0].argmax())
    return np.array(
        [
            v[0, 0],
            v[0, 1],
            v[:, 0].max(),
            v[:, 1].max(),
            float(weights @ v[:, 0]),
            float(weights @ v[:, 1]),
            float(sims.max()),
            _cue_rate(texts[best_support], HEDGING),
            _cue_rate(claim, HEDGING),
            _cue_rate(" ".join(texts), REFUTING),
            _cue_rate(claim, NEGATION),
            float(claim.rstrip().endswith("?")),
            *tail,
        ]
    )


@dataclass(frozen=True)
class VerdictAggregator:
    """Softmax(W · standardised features + b) over `ARTICLE_LABELS`."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[tuple[float, ...], ...]  # one row per article label
    intercept: tuple[float, ...]
    features: tuple[str, ...] = FEATURES

    @property
    def uses_stage2(self) -> bool:
        """Whether its rows end with `STAGE2_FEATURES` (the trained backend's aggregator)."""
        return self.features == FEATURES + STAGE2_FEATURES

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        x = (np.atleast_2d(rows) - np.asarray(self.mean)) / np.asarray(self.scale)
        z = x @ np.asarray(self.coef).T + np.asarray(self.intercept)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def to_json(self) -> dict[str, object]:
        return {
            "features": list(self.features),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": [list(r) for r in self.coef],
            "intercept": list(self.intercept),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> VerdictAggregator:
        """Raises ValueError when the stored weights do not fit this code's features."""
        features = tuple(str(f) for f in data["features"])  # type: ignore[attr-defined]
        if features not in (FEATURES, FEATURES + STAGE2_FEATURES):
            raise ValueError("the aggregator was fitted on other features than this code makes")
        agg = cls(
            mean=tuple(float(x) for x in data["mean"]),  # type: ignore[attr-defined]
            scale=tuple(float(x) for x in data["scale"]),  # type: ignore[attr-defined]
            coef=tuple(tuple(float(x) for x in r) for r in data["coef"]),  # type: ignore[attr-defined]
            intercept=tuple(float(x) for x in data["intercept"]),  # type: ignore[attr-defined]
            features=features,
        )
        shape = np.asarray(agg.coef).shape
        if shape != (len(ARTICLE_LABELS), len(features)) or len(agg.mean) != len(features):
            raise ValueError(f"the aggregator's weights have the wrong shape {shape}")
        return agg


def with_verdicts(
    evidence: Sequence[Evidence], verdicts: np.ndarray, label: str
) -> tuple[Evidence, ...]:
    """The evidence with each sentence's verdict and its probability, the sentence that
    decided `label` first (the most supporting for agree, the most refuting for disagree),
    the others in their order of similarity."""
    v = np.asarray(verdicts, dtype=np.float64).reshape(-1, len(VERDICTS))
    marked = [
        replace(e, verdict=VERDICTS[int(row.argmax())], verdict_score=round(float(row.max()), 4))
        for e, row in zip(evidence, v, strict=True)
    ]
    decisive = {"agree": 0, "disagree": 1}.get(label)
    if decisive is not None and marked:
        first = int(v[:, decisive].argmax())
        marked.insert(0, marked.pop(first))
    return tuple(marked)
