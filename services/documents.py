"""The domain records that flow through the NLP services."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Sentence:
    """One sentence of a cleaned article, with character offsets into the cleaned body."""

    index: int
    text: str
    start: int
    end: int


@dataclass(frozen=True)
class Document:
    """A cleaned article: the body text that every offset refers to, and its sentences.

    `byline` and `dateline` are kept apart from the body: they are facts about the article,
    not sentences to summarize or to use as evidence.
    """

    title: str | None
    body: str
    sentences: tuple[Sentence, ...]
    byline: str | None = None
    dateline: str | None = None
    removed: tuple[str, ...] = field(default=(), repr=False)

    @property
    def word_count(self) -> int:
        return len(self.body.split())


@dataclass(frozen=True)
class SummarySentence:
    index: int
    text: str
    start: int
    end: int
    score: float


@dataclass(frozen=True)
class Summary:
    text: str
    sentences: tuple[SummarySentence, ...]
    method: str


@dataclass(frozen=True)
class Evidence:
    """A sentence of the article that bears on a claim: `score` is its similarity to the claim,
    `verdict` (supports / refutes / neutral) and `verdict_score` what a verifier read in it."""

    index: int
    text: str
    start: int
    end: int
    score: float
    verdict: str | None = None
    verdict_score: float | None = None


STANCE_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss", "unrelated")


@dataclass(frozen=True)
class Stance:
    """The stance of an article towards one claim: a label, a probability per label, evidence."""

    claim: str
    label: str
    scores: dict[str, float]
    evidence: tuple[Evidence, ...]


@dataclass(frozen=True)
class AnalysisWarning:
    """Something the caller should know about a result that still succeeded."""

    code: str
    message: str


@dataclass(frozen=True)
class Analysis:
    """What one job produces: any of a summary and a stance per claim."""

    document: Document
    summary: Summary | None
    stance: tuple[Stance, ...] | None
    timings_ms: dict[str, float]
    warnings: tuple[AnalysisWarning, ...] = ()
