"""Accessibility of the web page in a real Chromium: axe-core's checks, labels, the keyboard.

axe-core is the npm package `make install-browser` installs (npm ci, pinned by
package-lock.json) under node_modules/; without it the axe tests skip and say so.
"""

from __future__ import annotations

import pytest

from tests.conftest import REFERENCE_TITLE, REPO_ROOT

pytestmark = pytest.mark.e2e

AXE = REPO_ROOT / "node_modules" / "axe-core" / "axe.min.js"
GRAVE = ("serious", "critical")


@pytest.fixture(scope="session")
def axe_script() -> str:
    if not AXE.is_file():
        pytest.skip(f"axe-core is not installed at {AXE} (make install-browser runs npm ci)")
    return str(AXE)


def grave_violations(page, axe_script: str) -> list[str]:
    """axe-core's serious and critical violations on the page as it is, one line each."""
    page.add_script_tag(path=axe_script)
    violations = page.evaluate(
        "async () => (await axe.run(document, { resultTypes: ['violations'] })).violations"
    )
    return [
        f"{v['impact']} {v['id']}: {v['help']} at {[n['target'] for n in v['nodes']]}"
        for v in violations
        if v["impact"] in GRAVE
    ]


UNNAMED_CONTROLS = """() => [...document.querySelectorAll("input, select, textarea, button")]
  .filter((e) => e.getClientRects().length)  // shown
  .filter((e) => {
    const byIds = (e.getAttribute("aria-labelledby") || "").split(" ").filter(Boolean)
      .map((id) => document.getElementById(id)?.textContent || "").join("");
    const labels = [...(e.labels || [])].map((l) => l.textContent).join("");
    const own = e.tagName === "BUTTON" ? e.textContent : "";
    return !(e.getAttribute("aria-label") || byIds || labels || own).trim();
  })
  .map((e) => e.outerHTML.slice(0, 120))"""


def submit_reference(page, reference_text: str) -> None:
    page.fill("#article", reference_text)
    page.fill("#claims", f"{REFERENCE_TITLE}\nBarcelona beat Real Madrid 3-1")
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)


def test_the_empty_form(open_page, axe_script):
    page = open_page("/")
    assert grave_violations(page, axe_script) == []
    assert page.evaluate(UNNAMED_CONTROLS) == []


def test_a_result(open_page, axe_script, reference_text):
    page = open_page("/")
    submit_reference(page, reference_text)
    assert page.locator("#stance .quote").count() > 0
    assert grave_violations(page, axe_script) == []
    assert page.evaluate(UNNAMED_CONTROLS) == []


def test_an_error(open_page, axe_script):
    page = open_page("/")
    page.fill("#article", "   ")
    page.click("#submit")
    page.wait_for_selector("#article-error:not([hidden])", timeout=10_000)
    assert grave_violations(page, axe_script) == []
    assert page.evaluate(UNNAMED_CONTROLS) == []


FOCUSED = """() => {
  const e = document.activeElement;
  return [e.id || e.name || e.tagName, getComputedStyle(e).outlineStyle];
}"""


def test_keyboard_only_tab_through_the_form_and_submit_with_enter(open_page, reference_text):
    page = open_page("/", width=1200, height=800)
    typed = {
        "title": lambda: page.keyboard.type(REFERENCE_TITLE),
        # What a journalist does with an article: paste it (one input, no key events).
        "article": lambda: page.keyboard.insert_text(reference_text),
        "claims": lambda: page.keyboard.type("Barcelona beat Real Madrid 3-1"),
    }
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        focused, outline = page.evaluate(FOCUSED)
        order.append(focused)
        assert outline != "none", f"{focused} shows no focus ring"
        if focused in typed:
            typed[focused]()
    assert order == ["title", "format", "article", "claims", "max-sentences", "api-key", "submit"]

    page.keyboard.press("Enter")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)
    assert page.input_value("#title") == REFERENCE_TITLE
    assert page.locator("#stance > li .claim-text").all_inner_texts() == [
        "Barcelona beat Real Madrid 3-1"
    ]
    # The result takes the focus: the next Tab goes on from there, into its evidence.
    assert page.evaluate("document.activeElement.id") == "results-heading"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "quote-text"
    page.keyboard.press("Enter")
    assert page.locator("#article-view mark.evidence").count() == 1
