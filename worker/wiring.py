"""Builds the Analyzer a worker process uses, from the worker settings."""

from __future__ import annotations

import logging

from services.analysis import Analyzer
from services.embeddings.batching import TextEncoder
from services.embeddings.minilm import packaged_minilm_path
from services.errors import ModelLoadError
from services.stance.similarity import SimilarityStanceDetector, StanceDetector
from services.summarize.extractive import ExtractiveSettings, ExtractiveSummarizer, Summarizer
from worker.runtime import encoder_threads, thread_count
from worker.settings import WorkerSettings

logger = logging.getLogger(__name__)


def build_stance_detector(settings: WorkerSettings) -> StanceDetector:
    if settings.stance_backend == "similarity":
        return SimilarityStanceDetector()
    if settings.stance_backend == "nli":
        if not settings.nli_model:
            raise ModelLoadError("NEWSNLP_STANCE_BACKEND=nli needs NEWSNLP_NLI_MODEL")
        from services.stance.nli import NliStanceDetector
        from services.stance.trained import shipped_aggregator

        return NliStanceDetector.load(
            settings.nli_model, aggregator=shipped_aggregator(settings.stance_model)
        )
    from services.stance.trained import TrainedStanceDetector

    return TrainedStanceDetector.load(settings.stance_model)


def build_summarizer(settings: WorkerSettings) -> Summarizer:
    if settings.summarizer == "seq2seq":
        if not settings.summarizer_model:
            raise ModelLoadError("NEWSNLP_SUMMARIZER=seq2seq needs NEWSNLP_SUMMARIZER_MODEL")
        from services.summarize.seq2seq import Seq2SeqSettings, Seq2SeqSummarizer

        generation = Seq2SeqSettings(
            num_beams=settings.summarizer_beams,
            min_length=settings.summarizer_min_tokens,
            max_length=settings.summarizer_max_tokens,
        )
        return Seq2SeqSummarizer.load(settings.summarizer_model, generation)
    return ExtractiveSummarizer(
        ExtractiveSettings(position_weight=settings.summary_position_weight)
    )


def build_encoder(settings: WorkerSettings) -> TextEncoder:
    """The sentence encoder the settings name, behind a bounded vector cache.

    torch: bfloat16 where the CPU computes it natively (`encoder_dtype=auto`), else float32,
    on `encoder_threads` threads of its own; onnx: ONNX Runtime with the process's share of
    the cores as intra-op threads (the packaged int8-stored file unless `onnx_model` names
    another).
    """
    from services.embeddings.batching import native_bfloat16
    from services.embeddings.cache import CachingEncoder
    from services.embeddings.torch_bert import TorchSentenceEncoder

    encoder: TextEncoder
    if settings.encoder == "onnx":
        from services.embeddings.onnx_runtime import OnnxSentenceEncoder, packaged_onnx_path

        model_file = settings.onnx_model or packaged_onnx_path()
        encoder = OnnxSentenceEncoder(
            model_file, packaged_minilm_path(), threads=thread_count(settings)
        )
    else:
        dtype = settings.encoder_dtype
        if dtype == "auto":
            dtype = "bfloat16" if native_bfloat16() else "float32"
        encoder = TorchSentenceEncoder(
            packaged_minilm_path(), dtype=dtype, threads=encoder_threads(settings)
        )
    if settings.encoder_cache_size > 0:
        encoder = CachingEncoder(encoder, settings.encoder_cache_size)
    return encoder


def build_analyzer(settings: WorkerSettings) -> Analyzer:
    """Load every model the settings name; raises ModelLoadError with the cause."""
    encoder = build_encoder(settings)
    analyzer = Analyzer(encoder, build_summarizer(settings), build_stance_detector(settings))
    logger.info(
        "models loaded: summarizer=%s stance=%s", settings.summarizer, settings.stance_backend
    )
    return analyzer
