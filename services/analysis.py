"""One article in, an Analysis out: clean, split, embed once, then summary and stance."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from services.cleaning import clean_article
from services.documents import Analysis
from services.encoder import SentenceEncoder
from services.errors import EmptyArticleError
from services.stance import StanceDetector
from services.summarization import Summarizer, SummaryOptions

logger = logging.getLogger(__name__)

TASKS = ("summary", "stance")


@dataclass(frozen=True)
class AnalysisRequest:
    text: str
    title: str | None = None
    claims: tuple[str, ...] = ()
    tasks: frozenset[str] = frozenset(TASKS)
    summary: SummaryOptions = field(default_factory=SummaryOptions)


class Analyzer:
    """Runs the requested analyses of one article; the article's sentences are embedded once
    and shared by the summarizer and the stance detector (the claims ride in the same batch)."""

    def __init__(
        self,
        encoder: SentenceEncoder,
        summarizer: Summarizer,
        stance_detector: StanceDetector,
    ) -> None:
        self.encoder = encoder
        self.summarizer = summarizer
        self.stance_detector = stance_detector

    def analyze(self, request: AnalysisRequest) -> Analysis:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        document = clean_article(request.text, request.title)
        if not document.sentences:
            raise EmptyArticleError("the article has no sentences left after cleaning")
        timings["clean"] = (time.perf_counter() - t0) * 1000

        claims = request.claims if "stance" in request.tasks else ()
        t0 = time.perf_counter()
        texts = [s.text for s in document.sentences] + list(claims)
        vectors = self.encoder.encode(texts)
        n = len(document.sentences)
        sentence_vectors, claim_vectors = vectors[:n], vectors[n:]
        timings["embed"] = (time.perf_counter() - t0) * 1000

        summary = None
        if "summary" in request.tasks:
            t0 = time.perf_counter()
            summary = self.summarizer.summarize(document, sentence_vectors, request.summary)
            timings["summary"] = (time.perf_counter() - t0) * 1000

        stance = None
        if "stance" in request.tasks:
            t0 = time.perf_counter()
            stance = tuple(
                self.stance_detector.detect(
                    list(claims), document, sentence_vectors, np.asarray(claim_vectors)
                )
            )
            timings["stance"] = (time.perf_counter() - t0) * 1000
        return Analysis(
            document=document,
            summary=summary,
            stance=stance,
            timings_ms={k: round(v, 2) for k, v in timings.items()},
        )
