"""The benchmark corpus: CNN/DM-250 and the reference article, 3 FNC-1 headlines each as claims."""

from __future__ import annotations

import csv
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


REPO_ROOT = Path(__file__).resolve().parent.parent
REFERENCE_SAMPLE = "000_71cd1386a0965eff.txt"
CLAIMS_PER_ARTICLE = 3
CLAIM_SEED = 20150601
QUICK_ARTICLES = 40
WARMUP_ARTICLES = 4
# Even: with the order reversed every other round, every phase runs as often early in a round
# as late, so a steady drift of the machine's speed falls on all phases alike.
ROUNDS = 4


def data_dir() -> Path:
    return Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


@dataclass(frozen=True)
class Article:
    id: str
    text: str
    claims: tuple[str, ...]
    title: str | None = None

    def request(self) -> Any:
        """The article as the worker's Analyzer takes it."""
        from services.analysis import AnalysisRequest

        return AnalysisRequest(text=self.text, title=self.title, claims=self.claims)

    def payload(self) -> dict[str, Any]:
        """The POST /v1/jobs body of this article."""
        article: dict[str, Any] = {"text": self.text}
        if self.title:
            article["title"] = self.title
        return {"article": article, "claims": list(self.claims), "tasks": ["summary", "stance"]}


def fnc_headlines(root: Path) -> list[str]:
    """The unique FNC-1 competition-test headlines, in a fixed shuffled order."""
    with open(root / "fnc1" / "competition_test_stances.csv", encoding="utf-8", newline="") as fh:
        headlines = sorted({row["Headline"].strip() for row in csv.DictReader(fh)})
    headlines = [h for h in headlines if 3 <= len(h) <= 500]
    order = np.random.default_rng(CLAIM_SEED).permutation(len(headlines))
    return [headlines[i] for i in order]


def build_corpus(root: Path, limit: int | None = None) -> tuple[list[Article], list[Article]]:
    """(measured articles, warm-up articles). Measured: CNN/DM (the first `limit`) and the
    reference article; warm-up: FNC-1 test bodies, with claims from the end of the deal."""
    cnndm = root / "cnndm" / "cnndm_test_250.jsonl"
    if not cnndm.is_file():
        raise FileNotFoundError(f"{cnndm} not found: set NEWSNLP_DATA_DIR to the shared data")
    with cnndm.open(encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh if line.strip()]
    if limit is not None:
        rows = rows[:limit]
    headlines = fnc_headlines(root)
    reference = (root / "samples" / REFERENCE_SAMPLE).read_text(encoding="utf-8")
    texts = [(r["id"], r["article"]) for r in rows] + [("reference", reference)]
    articles = []
    for n, (article_id, text) in enumerate(texts):
        claims = headlines[n * CLAIMS_PER_ARTICLE : (n + 1) * CLAIMS_PER_ARTICLE]
        articles.append(Article(article_id, text, tuple(claims)))
    with open(root / "fnc1" / "competition_test_bodies.csv", encoding="utf-8", newline="") as fh:
        bodies = [r["articleBody"] for r in csv.DictReader(fh) if len(r["articleBody"]) > 1500]
    warmup = [
        Article(f"warmup-{i}", bodies[i], tuple(headlines[-(i + 1) * 3 :][:3]))
        for i in range(WARMUP_ARTICLES)
    ]
    return articles, warmup


@dataclass(frozen=True)
class PreparedArticle:
    """An article as the pipeline sees it: its cleaned sentences and its claims."""

    article: Article
    texts: tuple[str, ...]  # sentences, then claims


def prepare(articles: Sequence[Article]) -> list[PreparedArticle]:
    from services.analysis import clean_request

    prepared = []
    for a in articles:
        document = clean_request(a.request())
        prepared.append(PreparedArticle(a, tuple(s.text for s in document.sentences) + a.claims))
    return prepared


def count_tokens(prepared: Sequence[PreparedArticle], batcher: Any) -> int:
    """Real tokens of every sentence and claim, as the pipeline's tokenizer cuts them."""
    return sum(len(ids) for p in prepared for ids in batcher.token_ids(p.texts))
