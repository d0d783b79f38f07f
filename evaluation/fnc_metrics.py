"""The official FNC-1 score (FakeNewsChallenge/fnc-1 scorer.py) and per-class figures."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from services.documents import STANCE_LABELS

RELATED = frozenset(("agree", "disagree", "discuss"))


def fnc_score(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """+0.25 per pair whose related/unrelated call is right, +0.75 more per related pair whose
    exact label is right (the official scorer: 'unrelated' pairs earn only the 0.25)."""
    if len(gold) != len(predicted):
        raise ValueError("gold and predicted differ in length")
    score = 0.0
    for g, p in zip(gold, predicted, strict=True):
        if g == p:
            score += 0.25
            if g != "unrelated":
                score += 0.50
        if g in RELATED and p in RELATED:
            score += 0.25
    return score


def max_fnc_score(gold: Sequence[str]) -> float:
    return fnc_score(gold, gold)


def relative_score(gold: Sequence[str], predicted: Sequence[str]) -> float:
    """Score as a percentage of the best achievable score on `gold`."""
    best = max_fnc_score(gold)
    return 100.0 * fnc_score(gold, predicted) / best if best else 0.0


@dataclass(frozen=True)
class ClassFigures:
    label: str
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class StanceReport:
    relative_score: float
    score: float
    max_score: float
    macro_f1: float
    classes: tuple[ClassFigures, ...]
    confusion: tuple[tuple[int, ...], ...]  # rows gold, columns predicted, STANCE_LABELS order

    def f1(self, label: str) -> float:
        return next(c.f1 for c in self.classes if c.label == label)

    def lines(self) -> list[str]:
        out = [f"{'':>10} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}"]
        for c in self.classes:
            out.append(
                f"{c.label:>10} {c.precision:9.3f} {c.recall:7.3f} {c.f1:6.3f} {c.support:8d}"
            )
        out.append("confusion (rows gold, columns predicted):")
        out.append(f"{'':>10} " + " ".join(f"{lab:>9}" for lab in STANCE_LABELS))
        for lab, row in zip(STANCE_LABELS, self.confusion, strict=True):
            out.append(f"{lab:>10} " + " ".join(f"{v:9d}" for v in row))
        out.append(f"FNC-1 score: {self.score:.2f} / {self.max_score:.2f}")
        return out

    def summary_line(self) -> str:
        return f"FNC-1 relative score: {self.relative_score:.2f}  macro-F1: {self.macro_f1:.3f}"


def stance_report(gold: Sequence[str], predicted: Sequence[str]) -> StanceReport:
    """Official score, relative score, per-class precision/recall/F1, macro-F1, confusion."""
    index = {lab: i for i, lab in enumerate(STANCE_LABELS)}
    confusion = [[0] * len(STANCE_LABELS) for _ in STANCE_LABELS]
    for g, p in zip(gold, predicted, strict=True):
        confusion[index[g]][index[p]] += 1
    classes = []
    for i, lab in enumerate(STANCE_LABELS):
        tp = confusion[i][i]
        predicted_n = sum(row[i] for row in confusion)
        support = sum(confusion[i])
        precision = tp / predicted_n if predicted_n else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        classes.append(ClassFigures(lab, precision, recall, f1, support))
    score = fnc_score(gold, predicted)
    best = max_fnc_score(gold)
    return StanceReport(
        relative_score=100.0 * score / best if best else 0.0,
        score=score,
        max_score=best,
        macro_f1=sum(c.f1 for c in classes) / len(classes),
        classes=tuple(classes),
        confusion=tuple(tuple(row) for row in confusion),
    )
