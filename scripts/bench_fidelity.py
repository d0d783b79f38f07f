"""Fidelity of the faster encoders against the fp32 reference: vectors, ROUGE and FNC-1.

    python -m scripts.bench_fidelity [--encoders torch-bf16,onnx] [--stance-encoders torch-bf16]

For each encoder: the mean and minimum cosine of its vectors to `services.embeddings.reference.
SentenceEncoder`'s (fp32, transformers) over every sentence and claim of the bench corpus;
the default summarizer's ROUGE-1/2/Lsum on CNN/DM-250 (`make eval-summary`'s protocol) and
the trained stance model's FNC-1 relative score and macro-F1 on the competition test
(`make eval-stance`'s protocol), each next to the reference encoder's. The budget of the
issue: mean cosine >= 0.999 and every score within 0.3 points. Vectors of the reference
encoder come from the eval scripts' own caches; the others' are cached under var/cache/bench.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scripts.bench import build_corpus, data_dir, prepare

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE = REPO_ROOT / "var" / "cache" / "bench"
ENCODERS = ("torch-fp32", "torch-bf16", "onnx")


def load_encoder(name: str, onnx_model: Path | None = None) -> Any:
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.torch_bert import TorchSentenceEncoder

    if name == "onnx":
        from services.embeddings.onnx_runtime import OnnxSentenceEncoder, packaged_onnx_path

        return OnnxSentenceEncoder(onnx_model or packaged_onnx_path(), packaged_minilm_path())
    dtype = {"torch-fp32": "float32", "torch-bf16": "bfloat16"}[name]
    return TorchSentenceEncoder(packaged_minilm_path(), dtype=dtype)


class DiskCachedEncoder:
    """One encoder's vectors of whole text lists, on disk by content hash."""

    def __init__(self, encoder: Any, name: str) -> None:
        self.encoder = encoder
        self.root = CACHE / name

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import hashlib

        h = hashlib.sha256()
        for t in texts:
            h.update(t.encode("utf-8") + b"\0")
        path = self.root / f"{h.hexdigest()[:32]}.npy"
        if path.is_file():
            return np.load(path)
        vectors = self.encoder.encode(list(texts)).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, vectors)
        return vectors


def vector_fidelity(encoders: dict[str, Any]) -> dict[str, dict[str, float]]:
    from scripts.eval_summary import CachedEncoder

    articles, _ = build_corpus(data_dir())
    texts = [t for p in prepare(articles) for t in p.texts]
    reference = CachedEncoder().encode(texts)
    out = {}
    for name, encoder in encoders.items():
        cosines = (encoder.encode(texts) * reference).sum(axis=1)
        out[name] = {
            "texts": len(texts),
            "mean_cosine": round(float(cosines.mean()), 6),
            "min_cosine": round(float(cosines.min()), 6),
            "p1_cosine": round(float(np.percentile(cosines, 1)), 6),
        }
        logger.info("%s: mean cosine %.6f", name, cosines.mean())
    return out


def summary_scores(encoders: dict[str, Any]) -> dict[str, list[float]]:
    from scripts.eval_summary import CachedEncoder
    from scripts.rouge import RougeScorer, load_cnndm, mean_figures
    from services.summarize.extractive import ExtractiveSummarizer, SummaryOptions
    from services.text.cleaning import clean_article

    articles = load_cnndm()
    documents = [clean_article(a.article) for a in articles]
    references = [a.reference for a in articles]
    scorer = RougeScorer()
    summarizer = ExtractiveSummarizer()
    out = {}
    for name, encoder in {"reference": CachedEncoder(), **encoders}.items():
        summaries = [
            summarizer.summarize(
                d, encoder.encode([s.text for s in d.sentences]), SummaryOptions()
            ).text
            for d in documents
        ]
        figures = mean_figures(scorer.score_all(references, summaries))
        out[name] = [
            round(figures.rouge1, 2),
            round(figures.rouge2, 2),
            round(figures.rougeLsum, 2),
        ]
        logger.info("%s: ROUGE %s", name, out[name])
    return out


def stance_scores(encoders: dict[str, Any], model: Path) -> dict[str, list[float]]:
    from scripts.eval_stance import evaluate
    from scripts.fnc_data import EmbeddingCache
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.reference import SentenceEncoder
    from services.stance.trained import TrainedStanceDetector

    detector = TrainedStanceDetector.load(model)
    out = {}
    caches = {
        "reference": EmbeddingCache(SentenceEncoder(packaged_minilm_path())),
        **{name: EmbeddingCache(e, root=CACHE / "stance" / name) for name, e in encoders.items()},
    }
    for name, cache in caches.items():
        report = evaluate(detector, cache)
        out[name] = [round(report.relative_score, 2), round(report.macro_f1 * 100, 2)]
        logger.info("%s: FNC-1 relative %.2f macro-F1 %.3f", name, *out[name])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--encoders", default="torch-bf16,onnx")
    parser.add_argument("--onnx-model", type=Path, default=None, help="another ONNX file")
    parser.add_argument("--stance-model", type=Path, default=REPO_ROOT / "models" / "stance")
    parser.add_argument(
        "--stance-encoders", default="torch-bf16", help="encoders to score on FNC-1 (slow)"
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "fidelity.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    import torch

    torch.set_num_threads(1)  # the machine's cores are shared
    names = [n for n in args.encoders.split(",") if n]
    unknown = set(names) - set(ENCODERS)
    if unknown:
        parser.error(f"unknown encoders {sorted(unknown)}; choose from {ENCODERS}")
    try:
        # The cache folder names the model file, so that another ONNX file is not answered
        # with the packaged one's vectors.
        tag = f"-{args.onnx_model.stem}" if args.onnx_model else ""
        encoders = {
            n: DiskCachedEncoder(load_encoder(n, args.onnx_model), n + (tag if n == "onnx" else ""))
            for n in names
        }
        result: dict[str, Any] = {"vectors": vector_fidelity(encoders)}
        result["rouge_1_2_lsum"] = summary_scores(encoders)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    stance_names = [n for n in args.stance_encoders.split(",") if n in names]
    if stance_names and (args.stance_model / "stance_model.json").is_file():
        result["fnc1_relative_macro_f1"] = stance_scores(
            {n: load_encoder(n, args.onnx_model) for n in stance_names}, args.stance_model
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for name in names:
        v = result["vectors"][name]
        line = f"{name}: mean cosine {v['mean_cosine']:.5f} (min {v['min_cosine']:.4f})"
        ref, got = result["rouge_1_2_lsum"]["reference"], result["rouge_1_2_lsum"][name]
        line += "; ROUGE delta " + "/".join(f"{g - r:+.2f}" for g, r in zip(got, ref, strict=True))
        if name in result.get("fnc1_relative_macro_f1", {}):
            ref, got = (result["fnc1_relative_macro_f1"][k] for k in ("reference", name))
            line += f"; FNC-1 relative {got[0] - ref[0]:+.2f}, macro-F1 {got[1] - ref[1]:+.2f}"
        print(line)
    print(f"figures: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
