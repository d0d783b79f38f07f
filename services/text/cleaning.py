"""Cleaning of scraped article text: web clutter out, byline and dateline apart, body kept.

Scraped pages end in comment widgets, share bars and cookie notices, and start with the
title repeated and a byline. The rules below are about the *kind* of line (short, no
sentence punctuation, a known widget phrase) rather than about one page's strings, and
everything removed is reported so that a caller can show or audit it.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from services.documents import Document
from services.text.sentences import split_sentences

# Lines that are page furniture wherever they appear.
_CLUTTER_LINE = re.compile(
    r"""^(?:
        add\ a\ comment | leave\ a\ (?:comment|reply) | post\ a\ comment | write\ a\ comment
      | comments?(?:\ \(\d+\))? | \d+\ comments? | view\ (?:all\ )?comments | show\ comments
      | sort\ by(?:\ \w+)? | newest | oldest | most\ popular | top\ comments
      | there\ are\ no\ comments\ yet.* | be\ the\ first\ to\ comment.* | join\ the\ conversation.*
      | log\ ?in\ to\ (?:comment|reply).* | sign\ in\ to\ (?:comment|reply).*
      | share(?:\ this)?(?:\ (?:article|story|page))?(?:\ on\ \w+)?:?
      | tweet | pin\ it | e-?mail | print
      | (?:share\ (?:on|via)\ )?(?:facebook|twitter|x|linkedin|whatsapp|reddit|email)
      | (?:facebook|twitter|linkedin|whatsapp|reddit|email)
        (?:\s+(?:facebook|twitter|linkedin|whatsapp|reddit|email))+
      | advertisement | sponsored(?:\ content)? | skip\ (?:to\ content|ad) | scroll\ to\ continue.*
      | read\ more:? | related(?:\ (?:articles|stories|news|content))?:? | more\ from\ .{1,40}
      | recommended(?:\ for\ you)?:? | trending(?:\ now)?:? | most\ read:?
      | (?:subscribe|sign\ up)(?:\ (?:now|today|for\ .{1,60}))?[.!]? | follow\ us.* | newsletter:?
      | .*\b(?:we|this\ (?:site|website))\ uses?\ cookies\b.*
      | accept(?:\ all)?\ cookies | cookie\ (?:settings|policy)
      | (?:all\ rights\ reserved|copyright|©).{0,80} | back\ to\ top | loading\.{0,3}
    )$""",
    re.IGNORECASE | re.VERBOSE,
)

_DATE_WORD = (
    r"(?:[\d:.,/\-]*\d[\d:.,/\-]*|\d+(?:st|nd|rd|th)|ago|hours?|hrs?|minutes?|mins?|days?"
    r"|weeks?|am|pm|gmt|bst|cet|utc|[ecmp][sd]?t|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?"
    r"|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t|tember)?|oct(?:ober)?|nov(?:ember)?"
    r"|dec(?:ember)?|(?:mon|tues?|wed(?:nes)?|thu(?:rs)?|fri|sat(?:ur)?|sun)(?:day)?)"
)
_SOCIAL = (
    r"(?:facebook|twitter|x|linkedin|whatsapp|reddit|e-?mail|messenger|pinterest|telegram"
    r"|instagram|youtube|tiktok|threads|bluesky|mastodon|flipboard|sms|copy\ (?:this\ )?link)"
)

# Page furniture that news pages (BBC-style ones above all) print around the text, as
# families of short lines by their shape and wording: media-player notices, picture credits
# and captions, share widgets, section links, timestamps. Matched on a line of at most
# `_FURNITURE_MAX_WORDS` words, so that a sentence of the article that uses the words stays.
_FURNITURE_LINE = re.compile(
    rf"""^(?:
        # "Media playback is unsupported on your device", "This video can not be played"
        (?:this\ |the\ )?(?:media|video|audio|playback|player|content)\b.{{0,60}}?
        (?:(?:unsupported|not\ supported|isn't\ supported|unavailable|not\ available)
             \ (?:on|in|for|with)\ (?:your|this)\ (?:device|browser|region|country|location)
           |can\ ?not\ be\ played|can't\ be\ played|requires?\ javascript).{{0,40}}
      | (?:please\ )?(?:enable|turn\ on|upgrade)\ (?:javascript|your\ browser|flash).{{0,60}}
      | skip\ (?:to\ )?(?:media\ player|video|next\ video|advert\w*)
      | (?:image|picture|photo|media|video)\ caption\b.{{0,120}}
      # picture credits: "Image copyright Getty Images", "AFP/Getty Images", "Photo: Reuters"
      | (?:image|picture|photo(?:graph)?|media|video)s?\ ?(?:copyright|source|credit)s?\b.{{0,80}}
      | (?:(?:image|photo|picture|getty|pa|ap|epa|afp|reuters|rex)\b[\w\ .\-]{{0,20}}/\ ?)*
        (?:getty(?:\ images)?|shutterstock|alamy|rex\ features|istock(?:photo)?|epa(?:-efe)?
           |ap\ photo|pa\ (?:media|wire)|[\w.\-]+\ via\ getty\ images)
        (?:\ ?/\ ?[\w\ .\-]{{1,30}})*
      | (?:photo(?:graph)?|picture|image|credit)s?\ ?(?::|by)\ .{{1,60}}
      | \(\s*(?:photo|picture|image)s?\ (?:by|:).{{1,80}}\)
      # share widgets: "Share this with", "Share this with Email Facebook Messenger"
      | share(?:\ (?:this|the))?(?:\ (?:article|story|page|post|video|link|panel))?
        (?:\ (?:on|via|with)(?:\ {_SOCIAL})*)?:?
      | (?:share\ (?:on|via|with)\ )?{_SOCIAL}(?:\s*[,|/·•]?\s*{_SOCIAL})*
      | close\ (?:the\ )?share\ panel | copy\ (?:this\ )?link
      | these\ are\ external\ links\ and\ will\ open\ in\ a\ new\ (?:window|tab)\.?
      # section links: "Related Topics", "More on this story", "From the section Europe"
      | related\ (?:topics|links|internet\ links|videos|coverage|content|searches|tags)
      | (?:more\ (?:on\ this|about\ this|from\ this)\ (?:story|topic|section))
      | (?:top|latest|more|other|featured)\ (?:stories|news|videos)
      | (?:around|elsewhere\ on|more\ from)\ the\ \w+ | from\ the\ section\ .{{1,40}}
      | you\ (?:may|might)\ (?:also\ )?(?:like|be\ interested\ in)
      | read\ more\ about\ these\ links\.?
      # timestamps: "Published 12 May 2015", "Updated 3 hours ago", "12 May 2015, 10:04 GMT"
      | (?=.*(?:\d|\bago\b))  # a date or a time, not a heading that uses a month's name
        (?:(?:(?:first\ )?published|(?:last\ )?updated|posted|(?:last\ )?modified)
           (?:\ (?:on|at))?:?\s+)?
        {_DATE_WORD}(?:[\s,]+(?:{_DATE_WORD}|at|on))*
    )$""",
    re.IGNORECASE | re.VERBOSE,
)
_FURNITURE_MAX_WORDS = 14

# A comment section starts here: the line and everything after it go.
_COMMENTS_START = re.compile(
    r"^(?:add\ a\ comment|leave\ a\ (?:comment|reply)|post\ a\ comment"
    r"|comments?(?:\ \(\d+\))?|\d+\ comments?"
    r"|there\ are\ no\ comments\ yet.*|be\ the\ first\ to\ comment.*|join\ the\ conversation.*)$",
    re.IGNORECASE | re.VERBOSE,
)

_BYLINE = re.compile(
    r"^(?:by\s+[A-Z][\w.'\-]+(?:\s+[A-Z][\w.'\-]+){0,3}(?:\s*(?:,|and)\s*.{0,60})?"
    r"|(?:agence\ france[-\ ]presse|associated\ press|reuters|afp|ap|bloomberg|dpa|efe|ansa"
    r"|xinhua|kyodo"
    r"|press\ association|pa\ media|upi|tass|interfax)(?:\s+(?:staff|news))?)$",
    re.IGNORECASE | re.VERBOSE,
)

# "SOCHI, Russia – " or "WASHINGTON (Reuters) - " at the start of the first body paragraph.
_DATELINE = re.compile(
    r"^(?P<dateline>[A-Z][A-Z .'\-]{1,40}?(?:,\s*[A-Z][\w .'\-]{1,30}?)?(?:\s*\([\w .]{1,30}\))?)"
    r"\s*[–—-]{1,2}\s+"
)

# A sign-off at the end of the body: "– Jo Biddle, AFP /" or "(Reporting by X; Editing by Y)".
_SIGN_OFF = re.compile(
    r"(?:\s+[–—-]{1,2}\s*[A-Z][\w.'\-]+(?:\s+[A-Z][\w.'\-]+){0,3},\s*[A-Z][\w]{1,15}\s*/?\s*"
    r"|\s*\((?:reporting|writing|editing)\s+by\b[^)]{1,200}\)\s*)$",
    re.IGNORECASE,
)

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
_SENTENCE_END = re.compile(r"[.!?…:;\"'”’)\]]$")


@dataclass(frozen=True)
class CleaningOptions:
    """Knobs of the cleaner; the defaults suit scraped news pages."""

    heading_max_words: int = 8
    byline_search_lines: int = 4
    # A text of short lines only is those lines. Off for the text extracted from a page,
    # where short lines that are all that is left are its menus and buttons.
    keep_short_texts: bool = True


def normalize_text(raw: str) -> str:
    """Unicode NFC, one kind of newline, no control characters, single spaces within lines."""
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    lines = [_SPACES.sub(" ", _without_controls(line)).strip() for line in text.split("\n")]
    return "\n".join(lines)


def _without_controls(line: str) -> str:
    """`line` without characters of Unicode category C (control, format...), tabs kept."""
    if line.isprintable():  # no character of category C (nor a separator but the space)
        return line
    return "".join(ch for ch in line if ch == "\t" or unicodedata.category(ch)[0] != "C")


def _same_text(a: str, b: str) -> bool:
    return _squash(a) == _squash(b)


def _is_heading(line: str, max_words: int) -> bool:
    """A short line without sentence punctuation: a section heading, not body text."""
    return len(line.split()) <= max_words and not _SENTENCE_END.search(line)


def _is_furniture(line: str) -> bool:
    """Page furniture: comment and share widgets, notices, credits, section links, dates."""
    if _CLUTTER_LINE.match(line):
        return True
    return len(line.split()) <= _FURNITURE_MAX_WORDS and _FURNITURE_LINE.match(line) is not None


def _title_index(paragraphs: list[str], opts: CleaningOptions) -> int | None:
    """Where the title of a scraped text is: its first short unpunctuated line, past the page
    furniture and a byline that may come before it; None when the text has no such line
    (one long line of body text) or is nothing else (then the line is the text)."""
    for i, line in enumerate(paragraphs):
        if _is_furniture(line) or (i < opts.byline_search_lines and _BYLINE.match(line)):
            continue
        if _is_heading(line, 20) and i < len(paragraphs) - 1:
            return i
        return None
    return None


def _squash(text: str) -> str:
    return re.sub(r"\W+", " ", text).strip().lower()


def _drop_repeated_decks(paragraphs: list[str], removed: list[str]) -> list[str]:
    """Drop unpunctuated paragraphs (a standfirst, a photo caption) that repeat body text.

    Pages print the deck under the headline and again as a body sentence, and captions
    repeat the lead; kept, they would be summarized twice.
    """
    squashed = [_squash(p) for p in paragraphs]
    kept: list[str] = []
    for i, paragraph in enumerate(paragraphs):
        repeated = (
            not _SENTENCE_END.search(paragraph)
            and len(squashed[i].split()) >= 5
            and any(f" {squashed[i]} " in f" {o} " for j, o in enumerate(squashed) if j != i)
        )
        if repeated:
            removed.append(paragraph)
        else:
            kept.append(paragraph)
    return kept


def clean_article(
    raw: str, title: str | None = None, options: CleaningOptions | None = None
) -> Document:
    """Turn scraped article text into a Document of body paragraphs and their sentences.

    When `title` is None and the first line is short and unpunctuated, it is taken as the
    title (scraped files put it there). Paragraphs are joined by a blank line in `body`.
    """
    opts = options or CleaningOptions()
    lines = [line for line in normalize_text(raw).split("\n")]
    paragraphs = [line for line in lines if line]
    removed: list[str] = []

    # A text with no line longer than a heading (a tweet, a wire flash, a list of headlines)
    # is nothing but those lines: each one is a sentence, none is taken for a title.
    short_text = opts.keep_short_texts and all(
        len(line.split()) <= opts.heading_max_words or _is_furniture(line) for line in paragraphs
    )
    detected = False
    if title is None and not short_text:
        index = _title_index(paragraphs, opts)
        if index is not None:
            title, detected = paragraphs.pop(index), True
    title = normalize_text(title).replace("\n", " ").strip() or None if title else None

    # The comment section: drop the first marker line found after the body started, and all after.
    for i, line in enumerate(paragraphs):
        if i > 0 and _COMMENTS_START.match(line):
            removed.extend(paragraphs[i:])
            paragraphs = paragraphs[:i]
            break

    byline: str | None = None
    kept: list[str] = []
    # Lines dropped for their shape alone (headings, the title repeated): the text itself
    # when nothing else is left (a tweet, a wire flash, "hello world").
    short_lines: list[str] = []
    for i, line in enumerate(paragraphs):
        if title and _same_text(line, title):
            removed.append(line)
            short_lines.append(line)
        elif _is_furniture(line):
            removed.append(line)
        elif byline is None and i < opts.byline_search_lines and _BYLINE.match(line):
            byline = line
        elif _is_heading(line, opts.heading_max_words) and not short_text:
            removed.append(line)
            short_lines.append(line)
        else:
            kept.append(line)

    kept = _drop_repeated_decks(kept, removed)
    if not kept and opts.keep_short_texts and (short_lines or detected):
        # Cleaning never removes a text's last sentence: a text of short lines is those lines.
        for line in short_lines:
            removed.remove(line)
        if detected and title is not None:
            short_lines.insert(0, title)
            title = None
        kept = short_lines

    # The dateline is a fact about the article, not part of its first sentence.
    dateline: str | None = None
    for i, paragraph in enumerate(kept[:2]):
        match = _DATELINE.match(paragraph)
        if match and len(paragraph) > match.end() + 20:
            dateline = match.group("dateline").strip()
            kept[i] = paragraph[match.end() :]
            break
    if kept:
        sign_off = _SIGN_OFF.search(kept[-1])
        if sign_off and sign_off.start() > 0:
            removed.append(kept[-1][sign_off.start() :].strip())
            kept[-1] = kept[-1][: sign_off.start()].rstrip()

    body = "\n\n".join(kept)
    return Document(
        title=title,
        body=body,
        sentences=tuple(split_sentences(body)),
        byline=byline,
        dateline=dateline,
        removed=tuple(removed),
    )
