"""The seq2seq backend end to end on a tiny randomly initialised BART built by the test."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.errors import ModelLoadError
from services.summarize.extractive import SummaryOptions
from services.summarize.seq2seq import Seq2SeqSettings, Seq2SeqSummarizer
from services.text.cleaning import clean_article
from tests.tiny_models import CORPUS, WINDOW, build_tiny_bart


@pytest.fixture(scope="module")
def tiny_bart(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_bart(tmp_path_factory.mktemp("tiny-bart"))


SMALL = Seq2SeqSettings(num_beams=2, min_length=2, max_length=12, batch_size=4)


@pytest.fixture(scope="module")
def summarizer(tiny_bart: Path) -> Seq2SeqSummarizer:
    return Seq2SeqSummarizer.load(tiny_bart, SMALL)


def test_loads_from_a_folder_and_reads_its_window(summarizer: Seq2SeqSummarizer) -> None:
    assert summarizer.window == WINDOW
    assert summarizer.budget == WINDOW - 2  # <s> ... </s>


def test_a_short_article_is_one_generation(summarizer: Seq2SeqSummarizer) -> None:
    document = clean_article(CORPUS[0])
    summary = summarizer.summarize(document, None, SummaryOptions())  # type: ignore[arg-type]
    assert summary.method == "abstractive"
    assert isinstance(summary.text, str)
    assert summary.sentences == ()
    assert len(summarizer.chunks([s.text for s in document.sentences])) == 1


def test_a_long_article_is_split_on_sentence_boundaries_and_reduced(
    summarizer: Seq2SeqSummarizer, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = clean_article(" ".join(CORPUS * 4))  # several times for a 64-token window
    sentences = [s.text for s in document.sentences]
    chunks = summarizer.chunks(sentences)
    assert len(chunks) > 3
    assert " ".join(chunks) == " ".join(sentences)  # whole sentences, none cut or lost
    assert all(summarizer.token_count(c) <= summarizer.budget for c in chunks)

    calls: list[int] = []
    generate = summarizer._generate

    def counting(texts, min_length, max_length):
        calls.append(len(texts))
        return generate(texts, min_length, max_length)

    monkeypatch.setattr(summarizer, "_generate", counting)
    summary = summarizer.summarize(document, None, SummaryOptions(max_words=20))  # type: ignore[arg-type]
    assert calls[0] == len(chunks)  # map over every chunk, then reduce
    assert calls[-1] == 1
    assert len(summary.text.split()) <= 20


def test_max_sentences_and_max_words_cap_generated_text(summarizer: Seq2SeqSummarizer) -> None:
    document = clean_article(" ".join(CORPUS))
    summary = summarizer.summarize(document, None, SummaryOptions(max_words=10))  # type: ignore[arg-type]
    assert len(summary.text.split()) <= 10


def test_missing_model_folder_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError):
        Seq2SeqSummarizer.load(tmp_path / "no-such-model")
    with pytest.raises(ModelLoadError, match="config.json"):
        Seq2SeqSummarizer.load(tmp_path)
    # A hub id that is not in the local cache: no download is tried (local_files_only).
    with pytest.raises(ModelLoadError, match="not in the Hugging Face cache"):
        Seq2SeqSummarizer.load("newsnlp-tests/no-such-model")
