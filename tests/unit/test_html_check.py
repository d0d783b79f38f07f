"""The API's cheap HTML check: visible text or not, for real pages and hostile ones alike.

What it costs is measured by `python -m bench.html_check`, not asserted here."""

from __future__ import annotations

import marshmallow as ma
import pytest

from api.html_check import has_visible_text
from api.schemas import JobCreateSchema

PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Council passes budget</title><script>var x = "<p>not text</p>";</script>
<style>p { color: red }</style><link rel="stylesheet" href="/s.css"></head>
<body><nav><a href="/">Home</a></nav><article><h1>Council passes budget</h1>
<p>The council passed the budget on Tuesday.</p></article></body></html>"""


@pytest.mark.parametrize(
    "html",
    [
        PAGE,
        "<p>x</p>",
        "plain text, no markup at all",
        "<html><head><title>T</title><body><p>No closing head, as HTML allows",
        "<P>Upper-case tags</P>",
        "<p>a &lt; b</p>",
        "<p>&#99;&#x2009a;</p>",
        "<p>&eacute;</p>",
        "3 < 4",
        "<div>" * 1000 + "deep" + "</div>" * 1000,
        "<!-- a comment --> text after it",
        "<script>a()</script> text after a script",
        "<a " + 'data-x="1" ' * 10_000 + ">text after many attributes</a>",
        "<p>x</p>" + "<a " * 30_000,
        "<script>" + "<b>" * 10_000 + "</script><p>text after a long script</p>",
        "<div>" * 10_000 + "text after 50 kB of tags",
    ],
)
def test_pages_with_visible_text(html):
    assert has_visible_text(html)


@pytest.mark.parametrize(
    "html",
    [
        "",
        " \n\t ",
        "<html><head><title>x</title></head><body><script>alert(1)</script></body></html>",
        "<style>p { color: red }</style><SCRIPT>a()</SCRIPT>",
        "<p>&nbsp;&#160;&#xA0;</p>",
        "<!-- only a comment -->",
        "<!-- unclosed comment <p>hidden text</p>",
        "<script>unclosed <p>script</p>",
        "<noscript>enable scripts</noscript><template><p>later</p></template>",
        "<a " * 30_000,
        "<!--" * 30_000,
        "<script>" * 30_000,
        "<div>" * 30_000,
        "</" * 30_000,
        "<br/>" * 30_000,
        "<script>" + "<b>x</b>" * 10_000 + "</script>",
        "<!--" + "<p>x</p>" * 10_000 + "-->",
    ],
)
def test_pages_without_visible_text(html):
    assert not has_visible_text(html)


def test_the_job_schema_refuses_html_without_visible_text():
    with pytest.raises(ma.ValidationError) as caught:
        JobCreateSchema().load({"article": {"title": "T", "html": "<script>a()</script>"}})
    assert caught.value.messages == {"article": {"html": ["The HTML has no visible text."]}}
    job = JobCreateSchema().load({"article": {"title": "T", "html": PAGE}})
    assert job["article"]["html"] == PAGE


MANY_FIELDS = {f"f{i}": 1 for i in range(100)}


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        (
            {"article": {"text": "x"}, "claims": ["a claim"] * 201},
            {"claims": ["At most 200 claims per job."]},
        ),
        (
            {"article": {"text": "x"}, "tasks": ["summary"] * 3},
            {"tasks": ["Longer than maximum length 2."]},
        ),
        (
            {"article": {"text": "x"}, **MANY_FIELDS},
            {"_schema": ["Unknown fields: this object has at most 6 fields."]},
        ),
        (
            {"article": {"text": "x", **MANY_FIELDS}},
            {"article": {"_schema": ["Unknown fields: this object has at most 3 fields."]}},
        ),
    ],
)
def test_long_lists_and_many_fields_are_refused_before_their_items_are_read(data, errors):
    with pytest.raises(ma.ValidationError) as caught:
        JobCreateSchema().load(data)
    assert caught.value.messages == errors
