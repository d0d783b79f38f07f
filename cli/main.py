"""`newsnlp`: submit articles, read jobs, and start the service's processes.

newsnlp submit FILE... [--claim TEXT]... [--title TEXT] [--wait] [--json] [--url URL]
newsnlp status ID [--wait SECONDS] [--json] [--url URL] [--api-key KEY]
newsnlp serve      # Redis (embedded unless REDIS_URL), API and one worker: `make run`
newsnlp worker     # one worker against REDIS_URL
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from cli.client import ApiError, NewsnlpClient

DEFAULT_URL = "http://127.0.0.1:8000"


def _progress(done: int, total: int, label: str) -> None:
    width = 30
    filled = int(width * done / max(total, 1))
    bar = "#" * filled + "-" * (width - filled)
    sys.stderr.write(f"\r[{bar}] {done}/{total} {label[:40]:<40}")
    if done == total:
        sys.stderr.write("\n")
    sys.stderr.flush()


def _print_job(job: dict[str, Any], name: str | None = None) -> None:
    head = f"{name}: " if name else ""
    print(f"{head}job {job['id']} {job['status']}")
    result = job.get("result") or {}
    if "summary" in result:
        print(f"  summary: {result['summary']['text']}")
    for stance in result.get("stance", []):
        best = stance["scores"][stance["label"]]
        print(f"  stance: {stance['label']:<9} ({best:.2f})  {stance['claim']}")
        first = (stance.get("evidence") or [{}])[0]
        if stance["label"] != "unrelated" and first.get("verdict"):
            text = first["text"] if len(first["text"]) <= 100 else first["text"][:99] + "…"
            print(f"    {first['verdict']} ({first.get('verdict_score') or 0:.2f}): “{text}”")
    if job.get("error"):
        print(f"  error: {job['error']['code']}: {job['error']['message']}")


class FileError(Exception):
    """A file given on the command line that cannot be read."""


def _submit_one(client: NewsnlpClient, path: str, args: argparse.Namespace) -> str:
    """Submit one file; its job id. FileError when the file cannot be read."""
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise FileError(exc.strerror or str(exc)) from exc
    is_html = path.endswith((".html", ".htm"))
    return client.submit(
        None if is_html else text,
        html=text if is_html else None,
        title=args.title,
        claims=args.claim or None,
        max_sentences=args.max_sentences,
        priority=priority(args),
    )


def priority(args: argparse.Namespace) -> str:
    """--priority, else bulk for several files (a backfill), interactive for one."""
    return args.priority or ("bulk" if len(args.files) > 1 else "interactive")


def _failure(exc: Exception, url: str) -> str:
    """What went wrong with one file, in a line."""
    if isinstance(exc, FileError):
        return f"cannot read the file: {exc}"
    if isinstance(exc, ApiError):
        fields = "; ".join(f"{k}: {v}" for k, v in (exc.body.get("errors") or {}).items())
        return f"{exc}{f' ({fields})' if fields else ''}"
    if isinstance(exc, TimeoutError):
        return str(exc)
    return f"cannot reach {url}: {exc}"


def cmd_submit(client: NewsnlpClient, args: argparse.Namespace) -> int:
    """Submit each file, and with --wait wait for each job. A file that fails (it cannot be
    read, the API refuses it, the server cannot be reached) is reported with its name on
    stderr and the others go on; the exit code is 1 when any file or job failed."""
    jobs: list[tuple[str, str]] = []
    failed = 0
    total = len(args.files)
    for i, path in enumerate(args.files):
        try:
            jobs.append((path, _submit_one(client, path, args)))
        except (FileError, ApiError, OSError) as exc:
            failed += 1
            if i > 0:
                sys.stderr.write("\n")  # off the progress bar's line
            print(f"{path}: {_failure(exc, args.url)}", file=sys.stderr)
        if total > 1:
            _progress(i + 1, total, f"submitted {Path(path).name}")
    if not args.wait:
        for path, job_id in jobs:
            print(json.dumps({"file": path, "id": job_id}) if args.json else f"{path}: {job_id}")
        return 1 if failed else 0
    results = []
    for i, (path, job_id) in enumerate(jobs):
        try:
            job = client.wait(job_id)
        except (ApiError, OSError, TimeoutError) as exc:
            failed += 1
            print(f"{path}: job {job_id}: {_failure(exc, args.url)}", file=sys.stderr)
            continue
        failed += job["status"] != "succeeded"
        results.append((path, job))
        if len(jobs) > 1:
            _progress(i + 1, len(jobs), f"done {Path(path).name}")
    for path, job in results:
        if args.json:
            print(json.dumps({"file": path, **job}, ensure_ascii=False))
        else:
            _print_job(job, path)
    return 1 if failed else 0


def cmd_status(client: NewsnlpClient, args: argparse.Namespace) -> int:
    job = client.get(args.id, wait=args.wait)
    if args.json:
        print(json.dumps(job, ensure_ascii=False))
    else:
        _print_job(job)
    return 0


def _connection_options(parser: argparse.ArgumentParser, defaults: bool) -> None:
    """--url and --api-key, before or after the subcommand (after it, they override)."""
    parser.add_argument(
        "--url",
        default=os.environ.get("NEWSNLP_URL", DEFAULT_URL) if defaults else argparse.SUPPRESS,
        help=f"the service's URL (default: $NEWSNLP_URL, else {DEFAULT_URL})",
    )
    parser.add_argument(
        "--api-key",
        default=os.environ.get("NEWSNLP_API_KEY") if defaults else argparse.SUPPRESS,
        help="the API key, sent as a Bearer token (default: $NEWSNLP_API_KEY)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="newsnlp", description="newsnlp: summaries and stance")
    _connection_options(parser, defaults=True)
    connection = argparse.ArgumentParser(add_help=False)
    _connection_options(connection, defaults=False)
    sub = parser.add_subparsers(dest="command", required=True)
    submit = sub.add_parser(
        "submit",
        parents=[connection],
        help="submit article files (.txt, or .html pages)",
        description="Submit article files. A file that fails is reported with its name and"
        " the others go on; the exit code is 1 when any file or job failed.",
    )
    submit.add_argument("files", nargs="+")
    submit.add_argument("--claim", action="append", help="a claim to check (repeatable)")
    submit.add_argument("--title", help="the article's title (default claim)")
    submit.add_argument("--max-sentences", type=int)
    submit.add_argument(
        "--priority",
        choices=["interactive", "bulk"],
        help="the jobs' lane (default: interactive for one file, bulk for several)",
    )
    submit.add_argument("--wait", action="store_true", help="wait for the results")
    submit.add_argument(
        "--json",
        action="store_true",
        help="one JSON object a line: with --wait the file and its job; without --wait,"
        " only the file and its job id",
    )
    status = sub.add_parser("status", parents=[connection], help="show a job")
    status.add_argument("id")
    status.add_argument("--wait", type=float, default=0, help="wait up to N s for the end")
    status.add_argument("--json", action="store_true", help="the job as one JSON object")
    sub.add_parser("serve", help="start Redis (embedded unless REDIS_URL), the API and a worker")
    sub.add_parser("worker", help="start one worker against REDIS_URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)

    if args.command == "serve":
        from devstack.run import main as serve

        return serve()
    if args.command == "worker":
        from worker.command import exec_worker

        # Both lanes, the machine's default concurrency: what `make worker` starts.
        exec_worker("worker", celery=str(Path(sys.executable).parent / "celery"))
    client = NewsnlpClient(args.url, api_key=args.api_key)
    try:
        return cmd_submit(client, args) if args.command == "submit" else cmd_status(client, args)
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        for field, messages in (exc.body.get("errors") or {}).items():
            print(f"  {field}: {messages}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot reach {args.url}: {exc}", file=sys.stderr)
        return 2
    finally:
        client.close()


if __name__ == "__main__":
    sys.exit(main())
