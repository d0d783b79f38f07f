"""Sentence splitting with offsets into the body."""

from __future__ import annotations

import time

from services.text.sentences import split_sentences


def texts(body: str) -> list[str]:
    return [s.text for s in split_sentences(body)]


def test_offsets_index_the_body():
    body = "First one here.  Second, with \u201cquotes.\u201d Third?\n\nNew paragraph!"
    sentences = split_sentences(body)
    assert [s.index for s in sentences] == [0, 1, 2, 3]
    for s in sentences:
        assert body[s.start : s.end] == s.text


def test_abbreviations_initials_and_acronyms_do_not_split():
    body = "Mr. Smith met Dr. J. Doe in the U.S. on Monday. They spoke at 3 p.m. Then left."
    assert texts(body) == [
        "Mr. Smith met Dr. J. Doe in the U.S. on Monday.",
        "They spoke at 3 p.m. Then left.",
    ]


def test_a_lowercase_letter_before_a_period_ends_a_sentence():
    assert texts("He was given a grade of a. The rest failed.") == [
        "He was given a grade of a.",
        "The rest failed.",
    ]


def test_closing_quotes_stay_with_their_sentence():
    assert texts("He said: \u2018I am here.\u2019 She left. \u201cWhy?\u201d he asked.") == [
        "He said: \u2018I am here.\u2019",
        "She left.",
        "\u201cWhy?\u201d he asked.",
    ]


def test_a_long_one_line_article_splits_in_linear_time():
    """CNN/DailyMail articles are one line; 20,000 words must not go quadratic."""
    body = " ".join(f"Sentence number {i} tells of talks in Geneva on Monday." for i in range(2000))
    t0 = time.perf_counter()
    sentences = split_sentences(body)
    assert len(sentences) == 2000
    assert time.perf_counter() - t0 < 2.0


def test_run_on_text_is_capped():
    body = "word " * 2000
    assert all(s.end - s.start <= 2000 for s in split_sentences(body))
