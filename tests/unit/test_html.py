"""HTML input: the article's main text out of a realistic page, cleaned like scraped text."""

from __future__ import annotations

import html as html_lib

import pytest

from services.analysis import AnalysisRequest, Analyzer, clean_request
from services.errors import AnalysisError
from services.stance.similarity import SimilarityStanceDetector
from services.summarize.extractive import ExtractiveSummarizer, SummaryOptions
from services.text.cleaning import clean_article
from services.text.html import NoArticleTextError, extract_main_text
from tests.conftest import CLUTTER, REFERENCE_TITLE


def as_page(text: str) -> str:
    """The reference article as a news site would serve it: furniture all around."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    title, byline, deck = lines[0], lines[1], lines[3]
    body = [
        line
        for line in lines[4:]
        if line not in ("Add a comment", "Sort by") and not line.startswith("There are no")
    ]
    esc = html_lib.escape
    paragraphs = "\n".join(
        f"<h3>{esc(p)}</h3>" if p == "Global issues" else f"<p>{esc(p)}</p>" for p in body
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{esc(title)} | World News</title>
  <meta property="og:title" content="{esc(title)}">
  <meta name="author" content="{esc(byline)}">
</head>
<body>
  <div id="cookie-notice" class="cookie-banner">
    <p>We use cookies to improve your experience on our site. By continuing to browse you
    agree to our use of cookies.</p><button>Accept all cookies</button>
  </div>
  <header class="site-header">
    <a href="/" class="logo">World News</a>
    <nav><ul><li><a href="/world">World</a></li><li><a href="/business">Business</a></li>
    <li><a href="/sports">Sports</a></li><li><a href="/opinion">Opinion</a></li></ul></nav>
  </header>
  <main>
    <article class="story">
      <h1 class="headline">{esc(title)}</h1>
      <div class="byline">{esc(byline)}</div>
      <time datetime="2015-05-12T08:00:00Z">May 12, 2015</time>
      <p class="standfirst">{esc(deck)}</p>
      <div class="share-bar"><a href="#">Share on Facebook</a> <a href="#">Twitter</a>
        <a href="#">Email</a></div>
      <div class="story-body">
{paragraphs}
      </div>
    </article>
    <aside class="related"><h2>Related stories</h2><ul>
      <li><a href="/a">Lavrov says talks with Kerry were constructive</a></li>
      <li><a href="/b">NATO ministers meet in Antalya</a></li></ul></aside>
    <section id="comments" class="comments">
      <h2>Add a comment</h2>
      <div class="sort">Sort by <select><option>Newest</option></select></div>
      <p>There are no comments yet. Add your comment to start the conversation.</p>
      <form><textarea placeholder="Write a comment"></textarea><button>Post</button></form>
    </section>
  </main>
  <footer><p>About us | Contact | Privacy policy | Terms of use</p>
    <p>Copyright 2015 World News. All rights reserved.</p></footer>
</body>
</html>"""


def test_the_main_text_of_a_realistic_page(reference_text):
    page = extract_main_text(as_page(reference_text))
    assert page.title == REFERENCE_TITLE
    assert "US Secretary of State John Kerry arrived" in page.text
    assert "keep these lines of communication open" in page.text
    for furniture in (
        *CLUTTER,
        "Accept all cookies",
        "Privacy policy",
        "Related stories",
        "Opinion",
    ):
        assert furniture not in page.text


def test_a_page_and_its_text_give_the_same_summary(encoder, reference_text):
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), SimilarityStanceDetector())
    tasks = frozenset({"summary"})
    from_text = analyzer.analyze(AnalysisRequest(text=reference_text, tasks=tasks))
    from_html = analyzer.analyze(AnalysisRequest(html=as_page(reference_text), tasks=tasks))
    assert from_html.summary is not None and from_text.summary is not None
    assert from_html.summary.text == from_text.summary.text
    assert from_html.document.title == REFERENCE_TITLE
    assert from_html.document.body == from_text.document.body
    for sentence in from_html.summary.sentences:
        body = from_html.document.body
        assert body[sentence.start : sentence.end] == sentence.text


def test_a_page_summary_matches_with_length_options(encoder, reference_text):
    text_doc = clean_article(reference_text)
    page = extract_main_text(as_page(reference_text))
    html_doc = clean_article(page.text, page.title)
    summarizer = ExtractiveSummarizer()
    options = SummaryOptions(max_words=50)
    a = summarizer.summarize(
        text_doc, encoder.encode([s.text for s in text_doc.sentences]), options
    )
    b = summarizer.summarize(
        html_doc, encoder.encode([s.text for s in html_doc.sentences]), options
    )
    assert a.text == b.text


@pytest.mark.parametrize(
    "html",
    [
        "",
        "<html><body></body></html>",
        "<html><body><nav><a href='/'>Home</a> <a href='/world'>World</a></nav></body></html>",
    ],
)
def test_a_page_without_text_is_an_analysis_error(html):
    with pytest.raises(NoArticleTextError) as info:
        clean_request(AnalysisRequest(html=html))
    assert info.value.code == "html_no_text"
    assert isinstance(info.value, AnalysisError)


def test_exactly_one_of_text_and_html():
    with pytest.raises(ValueError):
        AnalysisRequest()
    with pytest.raises(ValueError):
        AnalysisRequest(text="Some text.", html="<p>Some text.</p>")
