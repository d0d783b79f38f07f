"""Extractive summarization over sentence embeddings, with a position prior for news.

Each sentence is scored by its closeness to the article's centroid plus a lead prior
(`position_weight * exp(-index / position_decay)`), then picked greedily in score order,
skipping near-duplicates (captions that repeat the lead) and very short fragments. The
picked sentences come back in article order, with offsets into `document.body`.

Length: `max_sentences` caps the count; `max_words` is a hard cap on words. With neither,
the summary grows until it has both `min_sentences` sentences and `target_words` words, and
never exceeds `target_words + overflow_words` (a sentence that would is skipped), so a long
lead sentence is not dropped for a short, lower-ranked one.
On CNN/DM the defaults were chosen on the first 125 of 250 test articles
(`python -m evaluation.eval_summary`); see docs/summarization.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.documents import Document, Summary, SummarySentence


@dataclass(frozen=True)
class SummaryOptions:
    """Length of a summary: a sentence count, a word budget, or (both None) the default."""

    max_sentences: int | None = None
    max_words: int | None = None

    def __post_init__(self) -> None:
        for name in ("max_sentences", "max_words"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")


class Summarizer(Protocol):
    def summarize(
        self, document: Document, vectors: np.ndarray, options: SummaryOptions
    ) -> Summary: ...


@dataclass(frozen=True)
class ExtractiveSettings:
    """Settings of the extractive summarizer.

    `position_weight` is the strength of the lead prior: 2.0 suits news, where the first
    sentences carry the story; 0 ranks by centrality alone (reports, transcripts, anything
    not written lead-first). `position_decay` is how many sentences the prior takes to fall
    to 1/e. `duplicate_threshold` is the cosine above which a sentence repeats one already
    picked. `target_words`, `overflow_words` and `min_sentences` give the default length
    (see the module docstring); `min_words` keeps fragments out while longer sentences exist.
    """

    position_weight: float = 2.0
    position_decay: float = 3.0
    duplicate_threshold: float = 0.85
    target_words: int = 65
    overflow_words: int = 30
    min_sentences: int = 3
    min_words: int = 4


_WORD = re.compile(r"\S+")


def _word_count(text: str) -> int:
    return len(text.split())


class ExtractiveSummarizer:
    """Centrality plus lead prior, greedy selection within the length limits, no duplicates."""

    method = "extractive"

    def __init__(self, settings: ExtractiveSettings | None = None) -> None:
        self.settings = settings or ExtractiveSettings()

    def scores(self, document: Document, vectors: np.ndarray) -> np.ndarray:
        """One score per sentence: cosine to the centroid plus the lead prior."""
        s = self.settings
        n = len(document.sentences)
        if vectors.shape[0] != n:
            raise ValueError(f"{vectors.shape[0]} vectors for {n} sentences")
        centroid = vectors.mean(axis=0)
        norm = float(np.linalg.norm(centroid)) or 1.0
        centrality = vectors @ (centroid / norm)
        prior = np.exp(-np.arange(n, dtype=np.float32) / s.position_decay)
        return (centrality + s.position_weight * prior).astype(np.float32)

    def summarize(
        self, document: Document, vectors: np.ndarray, options: SummaryOptions
    ) -> Summary:
        s = self.settings
        sentences = document.sentences
        if not sentences:
            return Summary(text="", sentences=(), method=self.method)
        scores = self.scores(document, vectors)
        max_sentences = options.max_sentences
        target: int | None = None
        cap: int | None = options.max_words
        if max_sentences is None and cap is None:
            target, cap = s.target_words, s.target_words + s.overflow_words

        lengths = [_word_count(sentence.text) for sentence in sentences]
        # Fragments ("Photo: AFP") only count when the article has nothing longer.
        eligible = [i for i, n in enumerate(lengths) if n >= s.min_words] or list(
            range(len(sentences))
        )
        ranked = sorted(eligible, key=lambda i: (-float(scores[i]), i))
        picked: list[int] = []
        words = 0
        for i in ranked:
            if picked and float(np.max(vectors[picked] @ vectors[i])) >= s.duplicate_threshold:
                continue
            if cap is not None and words + lengths[i] > cap:
                # With a target, skip an overlong sentence and keep filling; with a hard cap,
                # stop at the first ranked sentence that does not fit once something is picked
                # rather than reach far down the ranking for short filler.
                if target is not None or not picked:
                    continue
                break
            picked.append(i)
            words += lengths[i]
            if max_sentences is not None and len(picked) >= max_sentences:
                break
            if target is not None and words >= target and len(picked) >= s.min_sentences:
                break

        if not picked and cap is not None:
            return self._truncated(document, int(ranked[0]), cap, float(scores[ranked[0]]))
        chosen = tuple(
            SummarySentence(
                index=sentences[i].index,
                text=sentences[i].text,
                start=sentences[i].start,
                end=sentences[i].end,
                score=round(float(scores[i]), 4),
            )
            for i in sorted(picked)
        )
        return Summary(text=" ".join(c.text for c in chosen), sentences=chosen, method=self.method)

    def _truncated(self, document: Document, i: int, max_words: int, score: float) -> Summary:
        """Every sentence is longer than the word cap: the best one, cut at a word boundary."""
        sentence = document.sentences[i]
        words = list(_WORD.finditer(sentence.text))[:max_words]
        end = sentence.start + words[-1].end()
        text = document.body[sentence.start : end]
        chosen = SummarySentence(sentence.index, text, sentence.start, end, round(score, 4))
        return Summary(text=text, sentences=(chosen,), method=self.method)
