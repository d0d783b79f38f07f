"""The web page's layout from a phone's width (360 px) to a desktop's, in a real Chromium.

Full-page screenshots of the form and the result at each width are kept under
var/artifacts/layout-<width>-<state>.png (git-ignored), for a person to look at.
"""

from __future__ import annotations

import pytest

from tests.conftest import REFERENCE_TITLE
from tests.e2e.conftest import ARTIFACTS

pytestmark = pytest.mark.e2e

NO_SIDEWAYS_SCROLL = "document.documentElement.scrollWidth <= window.innerWidth"


def overflow(page) -> str:
    """Why the page scrolls sideways: its width and the widest elements, for the failure."""
    return page.evaluate(
        """() => {
          const wide = [...document.querySelectorAll("body *")]
            .filter((e) => e.getBoundingClientRect().right > window.innerWidth)
            .slice(0, 5).map((e) => e.tagName.toLowerCase() + (e.id ? "#" + e.id : "")
              + "." + e.className + " right=" + Math.round(e.getBoundingClientRect().right));
          return `scrollWidth ${document.documentElement.scrollWidth} > innerWidth `
            + `${window.innerWidth}: ${wide.join(", ")}`;
        }"""
    )


@pytest.mark.parametrize("width", [360, 390, 1280])
def test_no_sideways_scroll_from_phone_to_desktop(open_page, reference_text, width):
    page = open_page("/", width=width, height=800)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    assert page.evaluate(NO_SIDEWAYS_SCROLL), overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"layout-{width}-form.png"), full_page=True)

    page.fill("#title", REFERENCE_TITLE)
    page.fill("#article", reference_text)
    page.fill(
        "#claims",
        f"{REFERENCE_TITLE}\nBarcelona beat Real Madrid 3-1\n"
        "https://www.example.com/a-very-long-address-without-any-space-to-break-it-at-all",
    )
    page.click("#submit")
    page.wait_for_selector("#results:not([hidden])", timeout=90_000)
    assert page.evaluate(NO_SIDEWAYS_SCROLL), overflow(page)
    page.screenshot(path=str(ARTIFACTS / f"layout-{width}-result.png"), full_page=True)
