"""ROUGE of the extractive summarizer on CNN/DM-250 against Lead-3, on both halves and all.

Run as `python -m evaluation.eval_summary`. The hyper-parameters of the default were chosen on
the first 125 articles only; the last 125 are held out. The last line printed is the default
summarizer's figures on all 250 articles, in a fixed form that CI and the Makefile grep.

Articles are cleaned and split exactly as the service does; sentence embeddings are cached
under `var/cache/summary/`, keyed by the encoder and the sentences' text.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from evaluation.rouge import REPO_ROOT, CnnDmArticle, RougeScorer, halves, load_cnndm, mean_figures
from services.documents import Document
from services.embeddings.minilm import packaged_minilm_path
from services.embeddings.reference import SentenceEncoder
from services.summarize.extractive import ExtractiveSettings, ExtractiveSummarizer, SummaryOptions
from services.text.cleaning import clean_article

logger = logging.getLogger(__name__)

CACHE_DIR = REPO_ROOT / "var" / "cache" / "summary"


class CachedEncoder:
    """Sentence vectors from disk when the same texts were embedded before; the encoder loads
    only on the first miss."""

    def __init__(self, cache_dir: Path = CACHE_DIR) -> None:
        self.cache_dir = cache_dir
        self._encoder: SentenceEncoder | None = None
        self.model_path = packaged_minilm_path()

    def _key(self, texts: Sequence[str]) -> str:
        h = hashlib.sha256(str(self.model_path.name).encode())
        for t in texts:
            h.update(b"\x00" + t.encode("utf-8"))
        return h.hexdigest()[:32]

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        path = self.cache_dir / f"{self._key(texts)}.npy"
        if path.is_file():
            return np.load(path)
        if self._encoder is None:
            self._encoder = SentenceEncoder(self.model_path)
        vectors = self._encoder.encode(texts)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)
        return vectors


def lead_k(document: Document, k: int = 3) -> str:
    """Lead-3 by the same code path: the first k sentences of the cleaned, split article."""
    return " ".join(s.text for s in document.sentences[:k])


@dataclass(frozen=True)
class System:
    name: str
    run: Callable[[Document, np.ndarray], str]


def _extractive(
    settings: ExtractiveSettings, options: SummaryOptions
) -> Callable[[Document, np.ndarray], str]:
    summarizer = ExtractiveSummarizer(settings)
    return lambda doc, vec: summarizer.summarize(doc, vec, options).text


def systems() -> list[System]:
    """Lead-3 and each summarizer setting reported in the table; the default comes last."""
    default = ExtractiveSettings()
    no_prior = replace(default, position_weight=0.0)
    return [
        System("Lead-3 (first 3 sentences)", lambda doc, vec: lead_k(doc, 3)),
        System("centrality only (position_weight=0)", _extractive(no_prior, SummaryOptions())),
        System(
            "centrality only, max_sentences=3",
            _extractive(no_prior, SummaryOptions(max_sentences=3)),
        ),
        System("default, max_sentences=3", _extractive(default, SummaryOptions(max_sentences=3))),
        System(
            "default, max_words=85 (hard cap)", _extractive(default, SummaryOptions(max_words=85))
        ),
        System(
            "default, min_sentences=1 (length by words only)",
            _extractive(replace(default, min_sentences=1), SummaryOptions()),
        ),
        System(
            "default, no de-duplication",
            _extractive(replace(default, duplicate_threshold=1.01), SummaryOptions()),
        ),
        System(
            f"default (prior {default.position_weight:g}, ~{default.target_words} words)",
            _extractive(default, SummaryOptions()),
        ),
    ]


def paired_bootstrap(
    a: Sequence[tuple[float, float, float]],
    b: Sequence[tuple[float, float, float]],
    samples: int = 2000,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """2.5th and 97.5th percentiles of mean(a - b) x 100 over documents resampled together."""
    diff = (np.asarray(a) - np.asarray(b)) * 100
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(diff), size=(samples, len(diff)))
    means = diff[idx].mean(axis=1)
    return np.percentile(means, 2.5, axis=0), np.percentile(means, 97.5, axis=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="first N articles only (smoke)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    import torch

    torch.set_num_threads(1)  # the machine's cores are shared

    try:
        articles: list[CnnDmArticle] = load_cnndm()
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    if args.limit:
        articles = articles[: args.limit]

    encoder = CachedEncoder()
    t0 = time.perf_counter()
    documents = [clean_article(a.article) for a in articles]
    vectors = [encoder.encode([s.text for s in d.sentences]) for d in documents]
    logger.info("embedded %d articles in %.1fs", len(articles), time.perf_counter() - t0)

    scorer = RougeScorer()
    references = [a.reference for a in articles]
    parts = list(halves(len(articles)))
    header = f"{'system':<52}" + "".join(f"{label:>24}" for label, _ in parts)
    print(f"ROUGE-1 / ROUGE-2 / ROUGE-Lsum (F1 x 100) on CNN/DM, {len(articles)} test articles")
    print(header)
    print("-" * len(header))
    last = None
    per_system: list[list[tuple[float, float, float]]] = []
    for system in systems():
        summaries = [system.run(d, v) for d, v in zip(documents, vectors, strict=True)]
        per_doc = scorer.score_all(references, summaries)
        per_system.append(per_doc)
        figures = [mean_figures(per_doc[s]) for _, s in parts]
        words = np.mean([len(s.split()) for s in summaries])
        print(
            f"{system.name:<52}"
            + "".join(f"{f.line():>24}" for f in figures)
            + f"   ({words:.0f} words)"
        )
        last = figures[-1]
    low, high = paired_bootstrap(per_system[-1], per_system[0])
    print(
        "default minus Lead-3, 95% paired-bootstrap interval on all: "
        + " / ".join(f"[{lo:+.2f}, {hi:+.2f}]" for lo, hi in zip(low, high, strict=True))
    )
    print("Differences under ~0.5 are noise on 125 articles, and on 250 (interval above).")
    assert last is not None
    print(f"CNN/DM-{last.count} ROUGE-1/2/Lsum: {last.line()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
