"""Cleaning of scraped text: clutter out by kind of line, byline and dateline apart, body kept."""

from __future__ import annotations

import random
import unicodedata

import pytest

from services.text.cleaning import _SPACES, clean_article, normalize_text
from tests.conftest import CLUTTER, REFERENCE_TITLE

BODY = [
    "WASHINGTON (Reuters) - The city council voted on Tuesday to expand the river park by "
    "forty hectares, ending a dispute that had lasted more than a decade.",
    "The plan, approved by seven votes to two, sets aside money for new paths, a wetland "
    "and a footbridge to the old harbour district.",
    "Opponents said the cost had been underestimated. \u201cWe will be paying for this for "
    "years,\u201d one councillor said after the vote.",
    "Work is expected to start in the spring and to last about three years.",
]


def page(*, before: list[str] | None = None, after: list[str] | None = None, middle=None) -> str:
    body = list(BODY)
    if middle:
        body[2:2] = middle
    return "\n\n".join(
        ["River park to grow by forty hectares", *(before or []), *body, *(after or [])]
    )


def assert_body_intact(doc) -> None:
    """Every body sentence survives, word for word, and nothing else is in the body."""
    expected = list(BODY)
    expected[0] = expected[0].removeprefix("WASHINGTON (Reuters) - ")
    assert doc.body == "\n\n".join(expected)
    for sentence in doc.sentences:
        assert doc.body[sentence.start : sentence.end] == sentence.text


# -- the reference article ------------------------------------------------------------------


def test_reference_article_loses_its_clutter_and_keeps_its_facts_apart(reference_text):
    doc = clean_article(reference_text)
    assert doc.title == REFERENCE_TITLE
    assert doc.byline == "Agence France-Presse"
    assert doc.dateline == "SOCHI, Russia"
    for clutter in (*CLUTTER, "Global issues", "Jo Biddle"):
        assert clutter not in doc.body
    assert doc.body.startswith("US Secretary of State John Kerry arrived in the Russian resort")
    assert doc.body.endswith("keep these lines of communication open.\u201d")
    # The standfirst repeats a body sentence: it is not a sentence of its own.
    assert sum("highest-level trip" in s.text for s in doc.sentences) == 1
    assert REFERENCE_TITLE in doc.removed
    assert len(doc.sentences) >= 25


# -- made-up variants: the rules are about kinds of lines, not one page's strings -------------


@pytest.mark.parametrize(
    "after",
    [
        ["12 Comments", "Sort by Newest", "Jane_R: Finally!", "Reply", "Tom: What a waste."],
        ["Leave a reply", "You must be logged in to post a comment."],
        ["Comments (3)", "Oldest", "Great news for the city. I walk there every day."],
        ["Join the conversation", "Be the first to comment on this story."],
        ["View comments"],
    ],
)
def test_comment_sections_are_cut_with_everything_after_them(after):
    doc = clean_article(page(after=after))
    assert_body_intact(doc)


@pytest.mark.parametrize(
    "clutter",
    [
        ["Share this article", "Facebook Twitter Email"],
        ["Share on WhatsApp", "Tweet", "Pin it", "Print"],
        ["Advertisement"],
        ["Read more: Council approves budget"],
        [
            "We use cookies to give you the best experience. By continuing you agree to our use "
            "of cookies."
        ],
        ["This website uses cookies", "Accept all cookies", "Cookie settings"],
        ["Sort by"],
        ["Subscribe to our newsletter", "Follow us on Instagram"],
    ],
)
def test_share_bars_ads_and_cookie_notices_are_dropped_wherever_they_are(clutter):
    doc = clean_article(page(before=clutter, middle=clutter, after=clutter))
    assert_body_intact(doc)
    assert doc.removed


@pytest.mark.parametrize(
    ("line", "byline"),
    [
        ("By Jane Doe", "By Jane Doe"),
        ("By JANE DOE and JOHN ROE", "By JANE DOE and JOHN ROE"),
        ("Associated Press", "Associated Press"),
        ("By Ann Lee, Reuters", "By Ann Lee, Reuters"),
    ],
)
def test_a_byline_is_kept_apart_from_the_body(line, byline):
    doc = clean_article(page(before=[line, "Published 12 May 2015"]))
    assert doc.byline == byline
    assert doc.dateline == "WASHINGTON (Reuters)"
    assert_body_intact(doc)


@pytest.mark.parametrize(
    ("prefix", "dateline"),
    [
        ("PARIS, France \u2013 ", "PARIS, France"),
        ("NEW YORK (AP) \u2014 ", "NEW YORK (AP)"),
        ("LONDON -- ", "LONDON"),
    ],
)
def test_datelines_are_taken_off_the_first_paragraph(prefix, dateline):
    text = prefix + "Officials confirmed the plan on Monday after months of talks with residents."
    doc = clean_article(text + "\n\nIt will be reviewed next year by an independent panel.")
    assert doc.dateline == dateline
    assert doc.body.startswith("Officials confirmed the plan")


def test_a_sentence_that_merely_mentions_comments_or_cookies_stays():
    text = (
        "The bakery sold 4,000 cookies on Saturday, its owner said.\n\n"
        "Comments made by the mayor at the opening drew criticism from residents.\n\n"
        "Share prices of the chain rose by 3% on the news."
    )
    doc = clean_article(text)
    assert doc.body == text
    assert len(doc.sentences) == 3


def test_a_one_line_news_article_is_left_as_it_is():
    """CNN/DailyMail articles come as one long line: nothing may be taken from them."""
    article = " ".join(BODY[1:] * 20)
    doc = clean_article(article)
    assert doc.body == article
    assert doc.title is None and doc.byline is None and doc.removed == ()


def test_normalize_text_unifies_spaces_and_newlines():
    assert normalize_text("a\u00a0 b\r\nc\td\x07") == "a b\nc d"


def test_normalize_text_drops_every_control_and_format_character_and_keeps_the_rest():
    def by_each_character(raw: str) -> str:
        text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
        text = "".join(c for c in text if c in "\n\t" or unicodedata.category(c)[0] != "C")
        return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))

    # Lines with and without such characters (clean lines take a fast path).
    rng = random.Random(7)
    alphabet = [chr(c) for c in [*range(0x250), *range(0x2000, 0x2070)]]
    alphabet += ["\ufeff", "\ud800", "\ue000", "\u3000", "\u2028", "\u0301", "\n", "\r"]
    for _ in range(500):
        raw = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        text = normalize_text(raw)
        assert text == by_each_character(raw)
        assert not any(unicodedata.category(c)[0] == "C" for c in text.replace("\n", ""))


def test_cnndm_articles_come_through_cleaning_unchanged():
    """The 250 CNN/DM test articles (one long line each) lose nothing to the cleaner."""
    from evaluation.rouge import cnndm_path, load_cnndm

    if not cnndm_path().is_file():
        pytest.skip(f"CNN/DM data not found at {cnndm_path()} (set NEWSNLP_DATA_DIR)")
    for article in load_cnndm():
        doc = clean_article(article.article)
        assert doc.body == normalize_text(article.article).strip(), article.id
        assert doc.removed == () and doc.title is None, article.id


# -- short texts: cleaning never removes a text's last sentence -------------------------------


@pytest.mark.parametrize(
    "lines",
    [
        ["hello world"],
        ["hello world."],
        ["Just landed in Sochi #travel"],
        ["BREAKING", "Quake hits Tokyo"],
        ["Quake hits Tokyo.", "Many feared dead."],
        ["BREAKING", "Quake hits Tokyo", "More to follow"],
        ["Kerry arrives in Sochi", "Talks with Putin on Ukraine.", "Lavrov to attend"],
    ],
)
def test_a_text_of_short_lines_keeps_them_as_its_sentences(lines):
    doc = clean_article("\n".join(lines))
    assert [s.text for s in doc.sentences] == lines
    assert doc.title is None and doc.removed == ()


def test_a_short_text_keeps_its_line_even_when_it_repeats_the_title():
    doc = clean_article("Quake hits Tokyo", title="Quake hits Tokyo")
    assert doc.title == "Quake hits Tokyo"
    assert [s.text for s in doc.sentences] == ["Quake hits Tokyo"]


def test_a_short_text_loses_its_page_furniture_but_not_its_line():
    doc = clean_article("Share this with\n\nQuake hits Tokyo\n\nImage copyright Getty Images")
    assert [s.text for s in doc.sentences] == ["Quake hits Tokyo"]


def test_only_page_furniture_still_leaves_nothing():
    assert clean_article("Add a comment\nSort by\nShare this with\nGetty Images").sentences == ()


# -- page furniture (BBC-style pages): by shape and wording, made-up variants -----------------

FURNITURE = [
    ["Media playback is unsupported on your device"],
    ["Media playback is not supported on this device", "Media caption The council vote"],
    ["This video can not be played", "Video is unavailable in your region"],
    ["Share this with", "Email", "Facebook", "Messenger", "Twitter", "Pinterest", "WhatsApp"],
    ["Share this with Email Facebook Messenger Twitter LinkedIn", "Copy this link"],
    ["These are external links and will open in a new window", "Close share panel"],
    ["Image copyright", "Getty Images", "Image caption"],
    ["Image copyright AFP/Getty Images", "Image caption The river park, seen from the bridge."],
    ["Picture credit: EPA", "Photograph: Reuters/Shutterstock"],
    ["Related Topics", "More on this story", "From the section England"],
    ["Published 12 May 2015", "Last updated on 12 May 2015, 10:04 GMT", "3 hours ago"],
]


@pytest.mark.parametrize("furniture", FURNITURE)
def test_page_furniture_is_never_the_title_nor_a_sentence(furniture):
    text = "\n\n".join([*furniture, "River park to grow by forty hectares", *furniture, *BODY,
                       *furniture])  # fmt: skip
    doc = clean_article(text)
    assert doc.title == "River park to grow by forty hectares"
    assert_body_intact(doc)


@pytest.mark.parametrize("furniture", FURNITURE)
def test_page_furniture_before_the_body_is_not_its_first_sentence(furniture):
    doc = clean_article("\n\n".join([*furniture, *BODY]), title="River park to grow")
    assert_body_intact(doc)


def test_the_title_is_found_past_a_byline_and_furniture():
    text = "\n\n".join(["Agence France-Presse", "Share this with", "River park to grow", *BODY])
    doc = clean_article(text)
    assert doc.title == "River park to grow"
    assert doc.byline == "Agence France-Presse"
    assert_body_intact(doc)


@pytest.mark.parametrize(
    "sentence",
    [
        "Video of the incident is not available to the public, the police said.",
        "Share prices of the chain rose by 3% on the news.",
        "Getty Images, the photo agency, was sold to a fund for $2bn on Monday.",
        "Updated guidelines for schools were published in May 2015 by the ministry.",
    ],
)
def test_sentences_that_use_furniture_words_stay(sentence):
    doc = clean_article("\n\n".join([*BODY, sentence]))
    assert doc.sentences[-1].text == sentence
