"""One article in, an Analysis out: clean, split, embed once, then summary and stance."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace

import numpy as np

from services.documents import Analysis, AnalysisWarning, Document
from services.embeddings.batching import TextEncoder
from services.errors import EmptyArticleError
from services.stance.similarity import StanceDetector
from services.summarize.extractive import Summarizer, SummaryOptions
from services.text.cleaning import CleaningOptions, clean_article
from services.text.html import NoArticleTextError, extract_main_text
from services.text.language import looks_english

logger = logging.getLogger(__name__)

TASKS = ("summary", "stance")


@dataclass(frozen=True)
class AnalysisRequest:
    """One article, as scraped `text` or as a page's `html` (exactly one of the two).

    Without `claims`, the stance task takes the article's title as its claim: `title`, or
    else the title the cleaner finds; with neither, no stance is detected.
    """

    text: str | None = None
    title: str | None = None
    claims: tuple[str, ...] = ()
    tasks: frozenset[str] = frozenset(TASKS)
    summary: SummaryOptions = field(default_factory=SummaryOptions)
    html: str | None = None

    def __post_init__(self) -> None:
        if (self.text is None) == (self.html is None):
            raise ValueError("give exactly one of text and html")


def clean_request(request: AnalysisRequest) -> Document:
    """The cleaned Document of a request; HTML goes through main-text extraction first.

    Raises NoArticleTextError (code `html_no_text`) when a page has no main text.
    """
    if request.html is not None:
        page = extract_main_text(request.html)
        options = CleaningOptions(keep_short_texts=False)
        document = clean_article(page.text, request.title or page.title, options)
        if not document.sentences:  # only page furniture (menus, buttons) was found
            raise NoArticleTextError("no article text found in the HTML")
        if document.byline is None and page.author:
            document = replace(document, byline=page.author)
        return document
    return clean_article(request.text or "", request.title)


def _warnings(document: Document) -> tuple[AnalysisWarning, ...]:
    if looks_english(document.body):
        return ()
    message = "The text does not look like English; the models are English-only."
    return (AnalysisWarning("language_not_english", message),)


class Analyzer:
    """Runs the requested analyses of one article; the article's sentences are embedded once
    and shared by the summarizer and the stance detector (the claims ride in the same batch)."""

    def __init__(
        self,
        encoder: TextEncoder,
        summarizer: Summarizer,
        stance_detector: StanceDetector,
    ) -> None:
        self.encoder = encoder
        self.summarizer = summarizer
        self.stance_detector = stance_detector

    def analyze(self, request: AnalysisRequest) -> Analysis:
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        document = clean_request(request)
        if not document.sentences:
            raise EmptyArticleError("the article has no sentences left after cleaning")
        timings["clean"] = (time.perf_counter() - t0) * 1000

        claims = request.claims
        if not claims and document.title:
            claims = (document.title,)  # the default claim: the title, given or found
        run_stance = "stance" in request.tasks and bool(claims)
        claims = claims if run_stance else ()
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
        if run_stance:
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
            warnings=_warnings(document),
        )
