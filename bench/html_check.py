"""What the API's HTML check costs: hostile 1 MB pages in process, and over HTTP.

    python -m bench.html_check [--http]

A plain news page, then pages each the worst of its kind for a parser: many unclosed tags,
unclosed comments, deep nesting, many attributes, a `<p>x</p>` then many `<a ` (quadratic in
CPython's `HTMLParser`: 105 s at 100 kB). In process, the best of 5 runs of `has_visible_text`, and
its cost per 100 kB; with `--http`, the time of a whole `POST /v1/jobs` of each page (JSON
parsing and the 422 or 202 included) to an API under gunicorn with its own Redis.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from api.html_check import has_visible_text

JSON = {"Content-Type": "application/json"}


def hostile_pages(size: int) -> dict[str, str]:
    """Pages of about `size` characters, by name."""
    paragraph = '<p>The council <a href="/budget">passed the budget</a> on Tuesday.</p>\n'
    return {
        "a news page": "<html><body><article>" + paragraph * (size // len(paragraph)),
        "<p>x</p> then <a ": "<p>x</p>" + "<a " * (size // 3),
        "<a  only": "<a " * (size // 3),
        "unclosed comments": "<!--" * (size // 4),
        "unclosed scripts": "<script>" * (size // 8),
        "deep nesting": "<div>" * (size // 11) + "x" + "</div>" * (size // 11),
        "many attributes": "<a " + 'b="1" ' * (size // 6) + ">x</a>",
        "end tags": "</" * (size // 2),
        "white-space references": "&nbsp;" * (size // 6),
    }


def in_process(pages: dict[str, str]) -> None:
    for name, page in pages.items():
        best = float("inf")
        for _ in range(5):
            start = time.perf_counter()
            has_visible_text(page)
            best = min(best, time.perf_counter() - start)
        per_100k = best * 100_000 / len(page)
        print(f"{name:24s} {len(page):>9,} chars  {best * 1000:6.1f} ms  "
              f"({per_100k * 1000:.2f} ms per 100 kB)")  # fmt: skip


def over_http(pages: dict[str, str]) -> None:
    import requests

    from devstack.local_redis import LocalRedis, free_port
    from devstack.processes import ApiProcess

    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalRedis(Path(tmp) / "redis") as server,
        ApiProcess(server.url, free_port(), Path(tmp) / "api.log", workers=1) as api,
    ):
        for name, page in pages.items():
            body = json.dumps({"article": {"title": "T", "html": page}, "tasks": ["summary"]})
            start = time.perf_counter()  # the request alone, its body serialized before
            response = requests.post(api.url + "/v1/jobs", data=body, headers=JSON, timeout=60)
            took = time.perf_counter() - start
            print(f"{name:24s} HTTP {response.status_code}  {took * 1000:6.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--http", action="store_true", help="also POST each page to an API")
    args = parser.parse_args()
    pages = hostile_pages(990_000)  # characters a page: under the API's limit
    in_process(pages)
    if args.http:
        over_http(pages)


if __name__ == "__main__":
    main()
