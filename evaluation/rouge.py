"""ROUGE as the project reports it, and the CNN/DM-250 evaluation set read in place.

Scoring follows `../shared/data/README.md`: rouge-score 0.1.2 with `use_stemmer=True`, mean
F1 x 100; for ROUGE-Lsum both reference and summary are re-split one sentence a line with
`LSUM_SPLIT`. The data folder comes from one setting, `NEWSNLP_DATA_DIR` (default
`../shared/data` from the repository root); nothing is copied into the repository.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from rouge_score import rouge_scorer

REPO_ROOT = Path(__file__).resolve().parent.parent
LSUM_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'‘“])")
_METRICS = ("rouge1", "rouge2", "rougeLsum")


def data_dir() -> Path:
    """The shared data folder: `NEWSNLP_DATA_DIR`, default ../shared/data from the repo root."""
    return Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def cnndm_path() -> Path:
    return data_dir() / "cnndm" / "cnndm_test_250.jsonl"


@dataclass(frozen=True)
class CnnDmArticle:
    id: str
    article: str
    reference: str


def load_cnndm(path: Path | None = None) -> list[CnnDmArticle]:
    """The 250 CNN/DM test articles, in file order; FileNotFoundError names the setting."""
    path = path or cnndm_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: set NEWSNLP_DATA_DIR to the shared data folder")
    with path.open(encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [CnnDmArticle(r["id"], r["article"], r["reference"]) for r in rows]


@dataclass(frozen=True)
class RougeFigures:
    """Mean F1 x 100 over a set of documents."""

    rouge1: float
    rouge2: float
    rougeLsum: float  # noqa: N815 - the metric's own name
    count: int

    def line(self) -> str:
        return f"{self.rouge1:.2f} / {self.rouge2:.2f} / {self.rougeLsum:.2f}"


def lsum_lines(text: str) -> str:
    """One sentence a line, as ROUGE-Lsum expects."""
    return "\n".join(s.strip() for s in LSUM_SPLIT.split(text.strip()) if s.strip())


class RougeScorer:
    """Per-document ROUGE-1/2/Lsum F1, so that any subset can be averaged afterwards."""

    def __init__(self) -> None:
        self._scorer = rouge_scorer.RougeScorer(list(_METRICS), use_stemmer=True)

    def score(self, reference: str, summary: str) -> tuple[float, float, float]:
        s = self._scorer.score(lsum_lines(reference), lsum_lines(summary))
        return (s["rouge1"].fmeasure, s["rouge2"].fmeasure, s["rougeLsum"].fmeasure)

    def score_all(
        self, references: Sequence[str], summaries: Sequence[str]
    ) -> list[tuple[float, float, float]]:
        if len(references) != len(summaries):
            raise ValueError("references and summaries differ in length")
        return [self.score(r, s) for r, s in zip(references, summaries, strict=True)]


def mean_figures(per_doc: Sequence[tuple[float, float, float]]) -> RougeFigures:
    n = len(per_doc)
    if n == 0:
        raise ValueError("no documents to average")
    sums = [sum(d[k] for d in per_doc) for k in range(3)]
    r1, r2, rl = (round(100 * s / n, 2) for s in sums)
    return RougeFigures(r1, r2, rl, n)


def halves(n: int) -> Iterator[tuple[str, slice]]:
    """The tuning half (first), the held-out half (last) and all documents."""
    mid = n // 2
    yield f"first {mid}", slice(0, mid)
    yield f"last {n - mid}", slice(mid, n)
    yield f"all {n}", slice(0, n)
