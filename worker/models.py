"""Builds the Analyzer a worker process uses, from the worker settings."""

from __future__ import annotations

import logging

from services.analysis import Analyzer
from services.encoder import ModelLoadError, SentenceEncoder, packaged_minilm_path
from services.stance import SimilarityStanceDetector, StanceDetector
from services.summarization import ExtractiveSettings, ExtractiveSummarizer, Summarizer
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)


def build_stance_detector(settings: WorkerSettings) -> StanceDetector:
    if settings.stance_backend == "similarity":
        return SimilarityStanceDetector()
    if settings.stance_backend == "nli":
        if not settings.nli_model:
            raise ModelLoadError("NEWSNLP_STANCE_BACKEND=nli needs NEWSNLP_NLI_MODEL")
        from services.stance_nli import NliStanceDetector

        return NliStanceDetector.load(settings.nli_model)
    from services.stance_model import TrainedStanceDetector

    return TrainedStanceDetector.load(settings.stance_model)


def build_summarizer(settings: WorkerSettings) -> Summarizer:
    if settings.summarizer == "seq2seq":
        if not settings.summarizer_model:
            raise ModelLoadError("NEWSNLP_SUMMARIZER=seq2seq needs NEWSNLP_SUMMARIZER_MODEL")
        from services.seq2seq import Seq2SeqSettings, Seq2SeqSummarizer

        generation = Seq2SeqSettings(
            num_beams=settings.summarizer_beams,
            min_length=settings.summarizer_min_tokens,
            max_length=settings.summarizer_max_tokens,
        )
        return Seq2SeqSummarizer.load(settings.summarizer_model, generation)
    return ExtractiveSummarizer(
        ExtractiveSettings(position_weight=settings.summary_position_weight)
    )


def build_analyzer(settings: WorkerSettings) -> Analyzer:
    """Load every model the settings name; raises ModelLoadError with the cause."""
    encoder = SentenceEncoder(packaged_minilm_path())
    analyzer = Analyzer(encoder, build_summarizer(settings), build_stance_detector(settings))
    logger.info(
        "models loaded: summarizer=%s stance=%s", settings.summarizer, settings.stance_backend
    )
    return analyzer
