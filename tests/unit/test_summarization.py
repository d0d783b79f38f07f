"""The extractive summarizer on the real MiniLM: the reference article, length limits, order."""

from __future__ import annotations

import random
import resource
import time

import numpy as np
import pytest

from services.documents import Document
from services.summarize.extractive import ExtractiveSettings, ExtractiveSummarizer, SummaryOptions
from services.text.cleaning import clean_article
from tests.conftest import CLUTTER


@pytest.fixture(scope="module")
def reference(encoder, reference_text) -> tuple[str, Document, np.ndarray]:
    document = clean_article(reference_text)
    return reference_text, document, encoder.encode([s.text for s in document.sentences])


def check_sentences(summary, document: Document, raw: str) -> None:
    indices = [s.index for s in summary.sentences]
    assert indices == sorted(indices), "sentences keep article order"
    assert len(set(indices)) == len(indices)
    for s in summary.sentences:
        assert document.body[s.start : s.end] == s.text
        assert s.text == document.sentences[s.index].text
        assert s.text in raw, "every sentence is from the article"
    assert summary.text == " ".join(s.text for s in summary.sentences)


def test_default_summary_of_the_reference_article(reference):
    raw, document, vectors = reference
    summary = ExtractiveSummarizer().summarize(document, vectors, SummaryOptions())
    assert summary.method == "extractive"
    assert len(summary.sentences) == 3
    check_sentences(summary, document, raw)
    for clutter in (*CLUTTER, "Jo Biddle", "Agence France-Presse", "SOCHI"):
        assert clutter not in summary.text
    assert summary.sentences[0].text.startswith("US Secretary of State John Kerry arrived")
    settings = ExtractiveSettings()
    assert len(summary.text.split()) <= settings.target_words + settings.overflow_words


@pytest.mark.parametrize("max_words", [10, 25, 40, 85, 150, 300])
def test_max_words_is_a_hard_cap(reference, max_words):
    raw, document, vectors = reference
    summary = ExtractiveSummarizer().summarize(
        document, vectors, SummaryOptions(max_words=max_words)
    )
    assert summary.sentences
    assert len(summary.text.split()) <= max_words
    check_sentences(summary, document, raw)


@pytest.mark.parametrize("max_sentences", [1, 3, 10])
def test_max_sentences(reference, max_sentences):
    raw, document, vectors = reference
    options = SummaryOptions(max_sentences=max_sentences)
    summary = ExtractiveSummarizer().summarize(document, vectors, options)
    assert len(summary.sentences) == max_sentences
    check_sentences(summary, document, raw)


def test_both_limits_apply_together(reference):
    _, document, vectors = reference
    options = SummaryOptions(max_sentences=5, max_words=60)
    summary = ExtractiveSummarizer().summarize(document, vectors, options)
    assert 1 <= len(summary.sentences) <= 5
    assert len(summary.text.split()) <= 60


def test_without_the_lead_prior_position_does_not_decide(reference):
    _, document, vectors = reference
    news = ExtractiveSummarizer().summarize(document, vectors, SummaryOptions(max_sentences=3))
    flat = ExtractiveSummarizer(ExtractiveSettings(position_weight=0.0)).summarize(
        document, vectors, SummaryOptions(max_sentences=3)
    )
    assert [s.index for s in news.sentences] == [0, 1, 2]
    assert [s.index for s in flat.sentences] != [0, 1, 2]


def test_near_duplicates_are_picked_once():
    sentences = [
        "The council approved the river park plan on Tuesday evening.",
        "The council approved the river park plan on Tuesday evening!",
        "Opponents said the cost of the new paths had been underestimated.",
        "Work is expected to start in the spring and last three years.",
    ]
    document = clean_article(" ".join(sentences))
    vectors = np.eye(4, 8, dtype=np.float32)
    vectors[1] = vectors[0]
    summary = ExtractiveSummarizer().summarize(document, vectors, SummaryOptions(max_sentences=3))
    assert [s.index for s in summary.sentences] == [0, 2, 3]


def test_a_sentence_longer_than_max_words_is_cut_at_a_word(encoder):
    document = clean_article(" ".join(["word"] * 40) + " ends here.")
    vectors = encoder.encode([s.text for s in document.sentences])
    summary = ExtractiveSummarizer().summarize(document, vectors, SummaryOptions(max_words=10))
    (only,) = summary.sentences
    assert len(only.text.split()) == 10
    assert document.body[only.start : only.end] == only.text


def test_vectors_must_match_the_sentences(reference):
    _, document, vectors = reference
    with pytest.raises(ValueError):
        ExtractiveSummarizer().summarize(document, vectors[:-1], SummaryOptions())


def test_options_reject_non_positive_limits():
    with pytest.raises(ValueError):
        SummaryOptions(max_words=0)


def synthetic_article(words: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    vocab = (
        "the minister said talks on a ceasefire would resume in Geneva next week while "
        "officials in Kiev and Moscow traded accusations over shelling near the frontline"
    ).split()
    sentences, count = [], 0
    while count < words:
        body = [rng.choice(vocab) for _ in range(rng.randint(12, 28))]
        sentences.append(f"Report {len(sentences)} says {' '.join(body)}.")
        count += len(body) + 3
    paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
    return "A very long report\n\n" + "\n\n".join(paragraphs)


@pytest.mark.slow
def test_a_20k_word_article_in_bounded_time_and_memory(encoder, record_property):
    raw = synthetic_article(20_000)
    t0 = time.perf_counter()
    document = clean_article(raw)
    vectors = encoder.encode([s.text for s in document.sentences])
    summary = ExtractiveSummarizer().summarize(document, vectors, SummaryOptions())
    seconds = time.perf_counter() - t0
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    record_property("seconds", round(seconds, 1))
    record_property("max_rss_mb", round(rss_mb))
    print(f"20k words: {len(document.sentences)} sentences in {seconds:.1f}s, {rss_mb:.0f} MB")
    assert document.word_count >= 20_000
    assert len(summary.sentences) == 3
    assert summary.sentences[0].index == 0
    # Embedding is batched: memory stays that of the model plus a batch (measured ~0.7 GB).
    assert rss_mb < 3000
    assert seconds < 120
