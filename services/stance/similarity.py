"""Stance of an article towards a claim: agree / disagree / discuss / unrelated, with evidence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from services.documents import STANCE_LABELS, Document, Evidence, Stance


class StanceDetector(Protocol):
    def detect(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> list[Stance]: ...


def top_evidence(
    document: Document, similarities: np.ndarray, k: int = 3, min_score: float = 0.0
) -> tuple[Evidence, ...]:
    """The k sentences most similar to the claim, best first."""
    order = np.argsort(-similarities, kind="stable")[:k]
    evidence: list[Evidence] = []
    for i in order:
        if float(similarities[i]) < min_score and evidence:
            break
        s = document.sentences[int(i)]
        evidence.append(Evidence(s.index, s.text, s.start, s.end, round(float(similarities[i]), 4)))
    return tuple(evidence)


_REFUTING = re.compile(
    r"\b(?:not|no|never|false|fake|hoax|deny|denies|denied|debunk\w*|untrue|refute\w*|"
    r"reject\w*|dismiss\w*|rumou?r\w*)\b",
    re.IGNORECASE,
)


class SimilarityStanceDetector:
    """A first, untrained detector: relatedness from the best sentence similarity, then
    refuting cues in the evidence for "disagree", very close paraphrase for "agree"."""

    def __init__(self, related_threshold: float = 0.4, agree_threshold: float = 0.7) -> None:
        self.related_threshold = related_threshold
        self.agree_threshold = agree_threshold

    def detect(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> list[Stance]:
        results = []
        for claim, vector in zip(claims, claim_vectors, strict=True):
            sims = sentence_vectors @ vector
            best = float(sims.max()) if len(sims) else 0.0
            evidence = top_evidence(document, sims)
            related = 1.0 / (1.0 + np.exp(-12.0 * (best - self.related_threshold)))
            refuting = sum(bool(_REFUTING.search(e.text)) for e in evidence) / max(len(evidence), 1)
            closeness = 1.0 / (1.0 + np.exp(-12.0 * (best - self.agree_threshold)))
            raw = {
                "agree": related * (1 - refuting) * closeness,
                "disagree": related * refuting * closeness,
                "discuss": related * (1 - closeness),
                "unrelated": 1.0 - related,
            }
            total = sum(raw.values())
            scores = {label: round(float(raw[label] / total), 4) for label in STANCE_LABELS}
            label = max(STANCE_LABELS, key=lambda lab: raw[lab])
            results.append(Stance(claim=claim, label=label, scores=scores, evidence=evidence))
        return results
