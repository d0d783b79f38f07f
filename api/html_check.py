"""The API's cheap check of submitted HTML: does the page have any visible text at all?

The API never runs an HTML parser on a request: CPython's `HTMLParser` is quadratic on some
inputs (a `<p>x</p>` then many `<a `: 105 s at 100 kB). This is a few passes of regular
expressions, each linear whatever the content: comments and hidden elements are dropped (an
unclosed one runs to the end of the page, as a browser reads it: one scan, not one per
opening), then tags (each to its `>`, or to the next `<` when unclosed), then white-space
character references; what is left is the visible text. It answers approximately, erring
towards "has text" (a `>` inside an attribute value ends the tag here): the worker's
extraction (trafilatura, under the job's time limit) is the real one, and fails the job with
`html_no_text` when it finds none. `python -m bench.html_check` measures it.
"""

from __future__ import annotations

import re

# Elements whose content is never visible text. `title` stands for `<head>` (whose only text
# is the title; its scripts and styles are matched on their own): `</head>` may be omitted.
_HIDDEN = "script|style|title|textarea|template|noscript"

# The page is lower-cased first: case-insensitive patterns cost several times more. Each
# pattern starts with a lookahead on its first characters, which fails fast elsewhere, and
# takes a run of its parts at once, possessively: one match (no backtracking state) for a
# run of a thousand tags costs a third of a thousand matches.
_HIDDEN_PARTS = re.compile(
    r"(?:<(?=[!stn])(?:"
    # A comment, to its end or, unclosed, to the end of the page.
    r"!--(?:.*?-->|.*)"
    # A hidden element with its content, likewise; its end tag's rest stops at the next `<`.
    rf"|({_HIDDEN})\b(?:.*?</\1\b[^<>]*+>|.*)))++",
    re.DOTALL,
)
_TAGS = re.compile(r"(?:<[a-z/!?][^<>]*+>?)++")
# Character references that stand for white space (as `str.isspace` has it).
_BLANK_REFERENCE = re.compile(
    r"(?:&(?=[ntenm#])(?:nbsp|ensp|emsp|thinsp|tab|newline"
    r"|#0*(?:9|10|12|13|32|160|8194|8195|8201)(?![0-9])"
    r"|#x0*(?:9|a|c|d|20|a0|2002|2003|2009)(?![0-9a-f]));?)++"
)


# A page is first checked up to the last `<` in its first this many characters: a cut before
# a `<` leaves every tag, comment and hidden element of the part as the whole page has it (at
# most running to the cut), so text found there is the page's text; a real page has some.
_FIRST_PART = 16_384


def has_visible_text(html: str) -> bool:
    """Whether `html` has some visible character outside tags, comments and hidden elements.

    A `<` that starts no tag is text, as in a browser; so is any character reference but the
    white-space ones (`&nbsp;` alone is not text).
    """
    cut = html.rfind("<", 0, _FIRST_PART) if len(html) > _FIRST_PART else -1
    return (cut > 0 and _has_text(html[:cut])) or _has_text(html)


def _has_text(html: str) -> bool:
    text = _HIDDEN_PARTS.sub(" ", html.lower())
    text = _BLANK_REFERENCE.sub(" ", _TAGS.sub(" ", text))
    return bool(text) and not text.isspace()
