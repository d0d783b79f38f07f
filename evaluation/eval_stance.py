"""`make eval-stance`: score the committed stance model, once, for the report.

    .venv/bin/python -m evaluation.eval_stance [--model models/stance] [--update-card]

Article level (FNC-1 competition test, the ARC hold-out by claim) goes through the service's
own path: each body is cleaned into a Document, embedded with the MiniLM encoder (vectors
cached under var/cache), and its headlines are passed as claims to
`TrainedStanceDetector.detect`; per-class precision/recall/F1 and the confusion matrix are
printed per set. Sentence level (SNLI test, FEVER-Symmetric v0.2 test, the Climate-FEVER
hold-out) scores the claim verifier alone, when the model ships one. Ends with the five lines

    FNC-1 relative score: xx.xx  macro-F1: 0.xxx  disagree F1: 0.xxx
    ARC hold-out macro-F1: 0.xxx  disagree F1: 0.xxx
    SNLI test accuracy: 0.xxx
    FEVER-Symmetric v0.2 test accuracy: 0.xxx
    Climate-FEVER hold-out macro-F1: 0.xxx
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from evaluation.claims_data import arc_articles
from evaluation.fnc_data import (
    REPO_ROOT,
    EmbeddingCache,
    body_groups,
    data_dir,
    load_bodies,
    load_pairs,
)
from evaluation.fnc_metrics import StanceReport, stance_report
from evaluation.stance_card import write_card
from services.stance.trained import MANIFEST, TrainedStanceDetector

logger = logging.getLogger(__name__)

REFERENCE_SAMPLE = "000_71cd1386a0965eff.txt"
LATENCY_CLAIMS = (
    "Kerry arrives in Russia to push Putin on Ukraine crisis",
    "Kerry meets Putin in Sochi",
    "Russia seized Crimea in 2014",
    "Kerry has never visited Moscow",
    "The Ukraine ceasefire has collapsed",
    "The US and Russia agree a new nuclear treaty",
    "Putin refuses to meet the US Secretary of State",
    "Barcelona beat Real Madrid 3-1",
    "Iran nuclear talks are discussed in Sochi",
    "Apple unveils a new iPhone",
)


def evaluate(detector: TrainedStanceDetector, cache: EmbeddingCache) -> StanceReport:
    return score_pairs(
        detector, load_pairs("competition_test"), load_bodies("competition_test"), cache, "test"
    )


def score_pairs(detector, pairs, bodies, cache: EmbeddingCache, tag: str) -> StanceReport:  # type: ignore[no-untyped-def]
    predicted = [""] * len(pairs)
    for group in body_groups(pairs, bodies, cache, tag):
        stances = detector.detect(
            group.claims, group.document, group.sentence_vectors, group.claim_vectors
        )
        for i, stance in zip(group.rows, stances, strict=True):
            predicted[i] = stance.label
    return stance_report([p.stance for p in pairs], predicted)


def measure_latency(detector: TrainedStanceDetector, encoder, runs: int = 5) -> dict:  # type: ignore[no-untyped-def]
    """Median stance and embedding time of 10 claims on the reference article (Analyzer)."""
    from services.analysis import AnalysisRequest, Analyzer
    from services.summarize.extractive import ExtractiveSummarizer

    text = (data_dir() / "samples" / REFERENCE_SAMPLE).read_text(encoding="utf-8")
    analyzer = Analyzer(encoder, ExtractiveSummarizer(), detector)
    request = AnalysisRequest(text=text, claims=LATENCY_CLAIMS, tasks=frozenset({"stance"}))
    analyzer.analyze(request)  # warm-up
    timings = [analyzer.analyze(request).timings_ms for _ in range(runs)]
    return {
        "claims": len(LATENCY_CLAIMS),
        "runs": runs,
        "stance_ms": round(float(np.median([t["stance"] for t in timings])), 1),
        "embed_ms": round(float(np.median([t["embed"] for t in timings])), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", type=Path, default=REPO_ROOT / "models" / "stance")
    parser.add_argument(
        "--update-card",
        action="store_true",
        help="write the figures into the model card's test section",
    )
    args = parser.parse_args()
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s", stream=sys.stderr
    )
    import torch

    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.reference import SentenceEncoder

    torch.set_num_threads(1)
    detector = TrainedStanceDetector.load(args.model)
    cache = EmbeddingCache(SentenceEncoder(packaged_minilm_path()))
    report = evaluate(detector, cache)
    if args.update_card:
        manifest = args.model / MANIFEST
        data = json.loads(manifest.read_text(encoding="utf-8"))
        data["test"] = {
            "relative_score": round(report.relative_score, 2),
            "macro_f1": round(report.macro_f1, 3),
            **{f"f1_{c.label}": round(c.f1, 3) for c in report.classes},
            "report_lines": [*report.lines(), report.summary_line()],
        }
        data["latency"] = measure_latency(detector, cache.encoder)
        manifest.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        write_card(args.model)
    arc_pairs, arc_bodies = arc_articles("hold")
    arc = score_pairs(detector, arc_pairs, arc_bodies, cache, "arc hold-out")
    sentence = verifier_figures(detector)
    for name, r in (("FNC-1 competition test", report), ("ARC hold-out (by claim)", arc)):
        print(f"## {name}")
        for line in r.lines():
            print(line)
        print()
    for name, figs in sentence.items():
        print(f"## {name} (verifier): " + ", ".join(f"{k} {v:.3f}" for k, v in figs.items()))
    na = "– (no verifier shipped)"
    print(
        f"FNC-1 relative score: {report.relative_score:.2f}  macro-F1: {report.macro_f1:.3f}"
        f"  disagree F1: {report.f1('disagree'):.3f}"
    )
    print(f"ARC hold-out macro-F1: {arc.macro_f1:.3f}  disagree F1: {arc.f1('disagree'):.3f}")
    for line, name, key in (
        ("SNLI test accuracy", "snli test", "accuracy"),
        ("FEVER-Symmetric v0.2 test accuracy", "fever-symmetric v0.2 test", "accuracy"),
        ("Climate-FEVER hold-out macro-F1", "climate-fever hold-out", "macro_f1"),
    ):
        print(f"{line}: {sentence[name][key]:.3f}" if name in sentence else f"{line}: {na}")


def verifier_figures(detector: TrainedStanceDetector) -> dict[str, dict[str, float]]:
    """The verifier alone on the sentence-level sets (none when the model ships no verifier)."""
    if detector.verifier is None:
        return {}
    from evaluation.claims_data import climate_fever, test_sets
    from evaluation.train_verifier import score

    sets = {**test_sets(), "climate-fever hold-out": climate_fever(hold=True)}
    return score(detector.verifier.net, detector.verifier.tokenizer, sets)


if __name__ == "__main__":
    main()
