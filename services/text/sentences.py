"""Sentence splitting with character offsets, tuned for news prose.

A rule-based splitter: a boundary is sentence punctuation (with any closing quotes or
brackets) followed by whitespace and an opening capital, digit or quote, unless the word
before the period is a known abbreviation or an initial. Paragraph breaks always split.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from services.documents import Sentence

_ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon pres
    inc ltd co corp bros no vs etc approx dept est fig jan feb mar apr jun jul aug sep sept
    oct nov dec mon tue wed thu fri sat sun u.s u.k u.n e.u a.m p.m i.e e.g d.c l.a n.y
    ala ariz ark calif colo conn del fla ga ill ind kan ky la md mass mich minn miss mo mont
    neb nev okla ore pa tenn tex va vt wash wis wyo
    """.split()
)

# Candidate boundary: terminal punctuation, optional closers, whitespace, then an opener.
_BOUNDARY = re.compile(r"([.!?…]+)([\"'”’)\]]*)(\s+)(?=[\"'“‘(\[]?[A-Z0-9])")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_MAX_SENTENCE_CHARS = 2000
_WORD_TAIL = 64


def _is_abbreviation(text_before: str) -> bool:
    # Only the last word matters; looking at a bounded tail keeps one-line articles linear.
    match = _WORD_BEFORE.search(text_before[-_WORD_TAIL:])
    if not match:
        return False
    original = match.group(1).rstrip(".")
    word = original.lower()
    if word in _ABBREVIATIONS:
        return True
    # An initial ("J. Smith", not the article in "... to a. The") or a dotted acronym ("U.S.").
    is_initial = len(original) == 1 and original.isalpha() and original.isupper()
    return is_initial or bool(re.fullmatch(r"(?:[a-z]\.)+[a-z]", word))


def _split_paragraph(text: str, offset: int) -> Iterator[tuple[int, int]]:
    start = 0
    for match in _BOUNDARY.finditer(text):
        if match.group(1) == "." and _is_abbreviation(
            text[max(0, match.start(1) - _WORD_TAIL) : match.start(1)]
        ):
            continue
        end = match.end(2)
        if text[start:end].strip():
            yield offset + start, offset + end
        start = match.end(3)
    if text[start:].strip():
        yield offset + start, offset + len(text.rstrip())


def _cap_length(start: int, end: int, body: str) -> Iterator[tuple[int, int]]:
    """Split run-on "sentences" (tables, lists scraped as one line) at whitespace."""
    while end - start > _MAX_SENTENCE_CHARS:
        cut = body.rfind(" ", start, start + _MAX_SENTENCE_CHARS)
        cut = cut if cut > start else start + _MAX_SENTENCE_CHARS
        yield start, cut
        start = cut + 1
    yield start, end


def split_sentences(body: str) -> list[Sentence]:
    """Split `body` into sentences whose offsets index into `body` itself."""
    sentences: list[Sentence] = []
    for paragraph in re.finditer(r"[^\n]+", body):
        for start, end in _split_paragraph(paragraph.group(0), paragraph.start()):
            for s, e in _cap_length(start, end, body):
                text = body[s:e]
                stripped = text.strip()
                if not stripped:
                    continue
                s += len(text) - len(text.lstrip())
                sentences.append(Sentence(len(sentences), stripped, s, s + len(stripped)))
    return sentences
