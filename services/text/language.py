"""Is a text English? The models here are English-only; other languages get a warning.

A function-word test: English prose has 35-50 % of its words among a few dozen function
words; other languages (and non-Latin scripts) have almost none of them.
"""

from __future__ import annotations

import re

_FUNCTION_WORDS = frozenset(
    """
    the of and to a in is that for it as was with be by on not he i this are or his from at
    which but have an they you were her she there been one all we their has would when if
    will who more no so said its also than after about into over could had them can up out
    """.split()
)
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)
MIN_WORDS = 20
ENGLISH_MIN_RATIO = 0.15


def english_ratio(text: str) -> float:
    """Share of the words of `text` that are English function words (0 for no words)."""
    words = [w.lower() for w in _WORD.findall(text[:20_000])]
    if not words:
        return 0.0
    return sum(w in _FUNCTION_WORDS for w in words) / len(words)


def looks_english(text: str) -> bool:
    """True for English, and for texts too short to tell (fewer than 20 words)."""
    if len(_WORD.findall(text[:20_000])) < MIN_WORDS:
        return True
    return english_ratio(text) >= ENGLISH_MIN_RATIO
