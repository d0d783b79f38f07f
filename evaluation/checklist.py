"""`make eval-checklist`: the stance model on hand-written claims over real articles, per group.

    .venv/bin/python -m evaluation.checklist [--backend trained]

The claims (`tests/data/stance_checklist.json`) were written and labelled by hand, before any
model was trained on the claims data, and are never tuned on: a paraphrase of a stated fact
is agree; a negation, an antonym event, a changed number or date, a swapped person or place
is disagree; a claim the article only reports as alleged is discuss; another topic is
unrelated. Each article is read from `NEWSNLP_DATA_DIR` (the reference article, with its title
line removed as a scraper hands it over, and CNN/DM test articles by id) and analysed through
the worker's own Analyzer with all its claims at once. Prints one row per group, then
`checklist: NN.N % right (N of N), worst group: NAME NN.N %`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evaluation.fnc_data import REPO_ROOT, data_dir

logger = logging.getLogger(__name__)

CHECKLIST = REPO_ROOT / "tests" / "data" / "stance_checklist.json"


@dataclass(frozen=True)
class CheckClaim:
    article: str
    group: str
    claim: str
    label: str


def load_checklist(path: Path = CHECKLIST) -> list[CheckClaim]:
    data = json.loads(path.read_text())
    return [CheckClaim(c["article"], c["group"], c["claim"], c["label"]) for c in data["claims"]]


def article_text(ref: str, root: Path) -> str:
    """The article a checklist reference names: `sample:<name>` or `cnndm:<id>`."""
    kind, _, name = ref.partition(":")
    if kind == "sample":
        lines = (root / "samples" / f"{name}.txt").read_text().splitlines()
        return "\n".join(lines[1:])  # the title line removed, as a scraper hands it over
    if kind == "cnndm":
        with (root / "cnndm" / "cnndm_test_250.jsonl").open() as f:
            for line in f:
                record = json.loads(line)
                if record["id"] == name:
                    return str(record["article"])
        raise KeyError(f"no CNN/DM article {name}")
    raise ValueError(f"unknown article reference {ref!r}")


def predict(analyzer: object, claims: Sequence[CheckClaim], root: Path) -> list[str]:
    """The label the analyzer gives each claim, its article's claims analysed together."""
    from services.analysis import AnalysisRequest

    by_article: dict[str, list[int]] = defaultdict(list)
    for i, claim in enumerate(claims):
        by_article[claim.article].append(i)
    labels = [""] * len(claims)
    for ref, rows in by_article.items():
        request = AnalysisRequest(
            text=article_text(ref, root),
            claims=tuple(claims[i].claim for i in rows),
            tasks=frozenset({"stance"}),
        )
        analysis = analyzer.analyze(request)  # type: ignore[attr-defined]
        for i, stance in zip(rows, analysis.stance, strict=True):
            labels[i] = stance.label
    return labels


def group_table(
    claims: Sequence[CheckClaim], predicted: Sequence[str]
) -> list[tuple[str, int, int]]:
    """(group, right, total) per group, in the order groups first appear."""
    right: dict[str, int] = defaultdict(int)
    total: dict[str, int] = defaultdict(int)
    for claim, label in zip(claims, predicted, strict=True):
        total[claim.group] += 1
        right[claim.group] += int(label == claim.label)
    return [(g, right[g], total[g]) for g in total]


def report(claims: Sequence[CheckClaim], predicted: Sequence[str]) -> str:
    rows = group_table(claims, predicted)
    lines = [f"{'group':<16} {'gold':<10} {'right':>5} {'of':>4} {'%':>7}   predicted labels"]
    for group, right, total in rows:
        gold = next(c.label for c in claims if c.group == group)
        seen: dict[str, int] = defaultdict(int)
        for c, p in zip(claims, predicted, strict=True):
            if c.group == group:
                seen[p] += 1
        spread = ", ".join(f"{k} {v}" for k, v in sorted(seen.items(), key=lambda kv: -kv[1]))
        lines.append(
            f"{group:<16} {gold:<10} {right:>5} {total:>4} {100 * right / total:>6.1f}   {spread}"
        )
    n_right = sum(r for _, r, _ in rows)
    n = sum(t for _, _, t in rows)
    worst = min(rows, key=lambda r: r[1] / r[2])
    lines.append(
        f"checklist: {100 * n_right / n:.1f} % right ({n_right} of {n}), "
        f"worst group: {worst[0]} {100 * worst[1] / worst[2]:.1f} %"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", default=None, help="NEWSNLP_STANCE_BACKEND (default: the worker's)"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    root = data_dir()
    if not (root / "cnndm").is_dir():
        print(f"the shared data is not at {root} (NEWSNLP_DATA_DIR): nothing to score")
        return 2
    from worker.settings import WorkerSettings
    from worker.wiring import build_analyzer

    overrides = {"NEWSNLP_STANCE_BACKEND": args.backend} if args.backend else {}
    analyzer = build_analyzer(WorkerSettings.from_env({**os.environ, **overrides}))
    claims = load_checklist()
    print(report(claims, predict(analyzer, claims, root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
