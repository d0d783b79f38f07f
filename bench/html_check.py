"""What the API's HTML check costs: hostile 1 MB pages in process, and over HTTP.

    python -m bench.html_check [--size 990000] [--http]

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
        best = min(_timed(has_visible_text, page) for _ in range(5))
        per_100k = best * 100_000 / len(page)
        print(f"{name:24s} {len(page):>9,} chars  {best * 1000:6.1f} ms  "
              f"({per_100k * 1000:.2f} ms per 100 kB)")  # fmt: skip


def _timed(check, page: str) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    check(page)
    return time.perf_counter() - start


def over_http(pages: dict[str, str]) -> None:
    import requests

    from devstack.local_redis import LocalRedis, free_port
    from devstack.processes import ApiProcess

    with tempfile.TemporaryDirectory() as tmp:
        redis_server = LocalRedis(Path(tmp) / "redis")
        redis_server.start()
        api = ApiProcess(redis_server.url, free_port(), Path(tmp) / "api.log", workers=1)
        api.start()
        try:
            for name, page in pages.items():
                body = json.dumps({"article": {"title": "T", "html": page}, "tasks": ["summary"]})
                start = time.perf_counter()
                response = requests.post(
                    api.url + "/v1/jobs", data=body, timeout=60,
                    headers={"Content-Type": "application/json"},
                )  # fmt: skip
                took = time.perf_counter() - start
                print(f"{name:24s} HTTP {response.status_code}  {took * 1000:6.1f} ms")
        finally:
            api.stop()
            redis_server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--size",
        type=int,
        default=990_000,
        help="characters per page (default: under the API's limit)",
    )
    parser.add_argument("--http", action="store_true", help="also POST each page to an API")
    args = parser.parse_args()
    pages = hostile_pages(args.size)
    in_process(pages)
    if args.http:
        over_http(pages)


if __name__ == "__main__":
    main()
