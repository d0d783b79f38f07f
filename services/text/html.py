"""Main text (and title) of a web page's HTML, extracted with trafilatura.

trafilatura drops navigation, headers, footers, comment sections and boilerplate by the
page's structure; what it returns is then cleaned like scraped text (`clean_article`), so
a page and the same article pasted as text give the same Document.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import trafilatura

from services.errors import AnalysisError

logger = logging.getLogger(__name__)


class NoArticleTextError(AnalysisError):
    """The HTML has no main text to analyse (an index page, a paywall stub, an empty body)."""

    code = "html_no_text"


@dataclass(frozen=True)
class ExtractedPage:
    """The article part of a page: its title if the page names one, and its paragraphs."""

    title: str | None
    text: str
    author: str | None = None
    date: str | None = None


def extract_main_text(html: str) -> ExtractedPage:
    """The main text of `html`, one paragraph a line; NoArticleTextError when there is none.

    Comments and tables are left out (a comment section is not the article; a table read
    as text is not prose). Links, images and formatting are dropped.
    """
    if not html or not html.strip():
        raise NoArticleTextError("the HTML is empty")
    try:
        result = trafilatura.bare_extraction(
            html,
            include_comments=False,
            include_tables=False,
            include_images=False,
            include_links=False,
            with_metadata=True,
        )
    except (ValueError, TypeError) as exc:  # trafilatura on markup it cannot parse at all
        logger.info("HTML extraction failed: %s", exc)
        raise NoArticleTextError("the HTML could not be parsed") from exc
    if result is None:
        raise NoArticleTextError("no main text found in the HTML")
    fields: dict[str, Any] = result if isinstance(result, dict) else result.as_dict()
    text = (fields.get("text") or "").strip()
    if not text:
        raise NoArticleTextError("no main text found in the HTML")
    title = (fields.get("title") or "").strip() or None
    return ExtractedPage(
        title=title,
        text=text,
        author=(fields.get("author") or None),
        date=(fields.get("date") or None),
    )
