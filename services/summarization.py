"""Extractive summarization over sentence embeddings, with a position prior for news."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from services.documents import Document, Summary, SummarySentence


@dataclass(frozen=True)
class SummaryOptions:
    """Length of a summary: a sentence count, a word budget, or (both None) the default budget."""

    max_sentences: int | None = None
    max_words: int | None = None


class Summarizer(Protocol):
    def summarize(
        self, document: Document, vectors: np.ndarray, options: SummaryOptions
    ) -> Summary: ...


@dataclass(frozen=True)
class ExtractiveSettings:
    """`position_weight` is the strength of the lead prior: 0 ignores position (non-news text)."""

    position_weight: float = 1.0
    position_decay: float = 3.0
    duplicate_threshold: float = 0.85
    default_max_words: int = 85
    min_words: int = 4


class ExtractiveSummarizer:
    """Scores sentences by closeness to the article's centroid plus a lead prior, then picks
    greedily within the length budget, skipping near-duplicates of sentences already picked.
    The picked sentences are returned in article order."""

    def __init__(self, settings: ExtractiveSettings | None = None) -> None:
        self.settings = settings or ExtractiveSettings()

    def scores(self, document: Document, vectors: np.ndarray) -> np.ndarray:
        s = self.settings
        n = len(document.sentences)
        centroid = vectors.mean(axis=0)
        norm = float(np.linalg.norm(centroid)) or 1.0
        centrality = vectors @ (centroid / norm)
        positions = np.arange(n, dtype=np.float32)
        prior = np.exp(-positions / s.position_decay)
        return (centrality + s.position_weight * prior).astype(np.float32)

    def summarize(
        self, document: Document, vectors: np.ndarray, options: SummaryOptions
    ) -> Summary:
        s = self.settings
        sentences = document.sentences
        if not sentences:
            return Summary(text="", sentences=(), method="extractive")
        scores = self.scores(document, vectors)
        max_words = options.max_words
        if options.max_sentences is None and max_words is None:
            max_words = s.default_max_words
        picked: list[int] = []
        words = 0
        for i in np.argsort(-scores, kind="stable"):
            i = int(i)
            length = len(sentences[i].text.split())
            if length < s.min_words and len(sentences) > 1:
                continue
            if picked and float(np.max(vectors[picked] @ vectors[i])) >= s.duplicate_threshold:
                continue
            if max_words is not None and picked and words + length > max_words:
                continue
            picked.append(i)
            words += length
            if options.max_sentences is not None and len(picked) >= options.max_sentences:
                break
            if max_words is not None and words >= max_words:
                break
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
        return Summary(text=" ".join(c.text for c in chosen), sentences=chosen, method="extractive")
