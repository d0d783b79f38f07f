"""Each encoder lever alone: the same articles' sentences and claims, one article per call.

    python -m scripts.bench_levers [--articles 60] [--threads 1]

Variants, from the naive yardstick to the worker's default: sentence-transformers `encode`
(fp32, batch 32), the project's original `SentenceEncoder` (transformers fp32, batches of
64 sorted by length), the lean BERT forward in fp32 without and with padding-aware
batches, the same in bfloat16, and ONNX Runtime on the packaged int8-stored file. Prints
wall and CPU seconds and the speed-up over the yardstick; CPU seconds are the steadier figure
on a shared machine. The lean forward runs its dense layers on real tokens only in every
row: only its attention sees the padding. Figures go to var/bench/levers.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from scripts.bench import build_corpus, data_dir, prepare

REPO_ROOT = Path(__file__).resolve().parent.parent


def variants(onnx_models: Sequence[Path] = ()) -> list[tuple[str, Callable[[], Any]]]:
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.reference import SentenceEncoder
    from services.embeddings.torch_bert import TorchSentenceEncoder

    path = packaged_minilm_path()

    def naive() -> Any:
        from sentence_transformers import SentenceTransformer

        return SentenceTransformer(str(path), device="cpu")

    def lean(dtype: str, sorted_64: bool) -> Callable[[], Any]:
        if sorted_64:  # the original batching: 64 texts sorted by length, whatever the padding
            return lambda: TorchSentenceEncoder(
                path, dtype=dtype, max_padding=1.0, max_batch_size=64, max_batch_tokens=1 << 20
            )
        return lambda: TorchSentenceEncoder(path, dtype=dtype)

    def onnx(model_file: Path | None = None) -> Callable[[], Any]:
        def make() -> Any:
            import torch

            from services.embeddings.onnx_runtime import OnnxSentenceEncoder, packaged_onnx_path

            threads = torch.get_num_threads()
            return OnnxSentenceEncoder(model_file or packaged_onnx_path(), path, threads=threads)

        return make

    return [
        ("sentence-transformers fp32 (naive)", naive),
        ("transformers fp32, 64 sorted (original)", lambda: SentenceEncoder(path)),
        ("lean fp32, 64 sorted", lean("float32", True)),
        ("lean fp32, padding-aware batches", lean("float32", False)),
        ("lean bf16, 64 sorted", lean("bfloat16", True)),
        ("lean bf16, padding-aware batches (default)", lean("bfloat16", False)),
        ("onnxruntime, packaged int8-stored file", onnx()),
        *((f"onnxruntime, {m.name}", onnx(m)) for m in onnx_models),
    ]


def measure(encoder: Any, articles: Sequence[tuple[str, ...]]) -> tuple[float, float]:
    for texts in articles[:3]:
        encoder.encode(list(texts))
    cpu, wall = time.process_time(), time.perf_counter()
    for texts in articles:
        encoder.encode(list(texts))
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=60)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--onnx-model", type=Path, action="append", default=[], help="more files")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "levers.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    import os

    import torch

    os.environ.setdefault("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "64")
    os.environ.setdefault("LRU_CACHE_CAPACITY", "64")
    torch.set_num_threads(args.threads)
    try:
        articles, _ = build_corpus(data_dir(), args.articles)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    texts = [p.texts for p in prepare(articles)]
    rows = []
    for name, make in variants(args.onnx_model):
        wall, cpu = measure(make(), texts)
        rows.append({"variant": name, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
    base = rows[0]
    print(f"{len(texts)} articles, {sum(len(t) for t in texts)} texts, {args.threads} thread(s)")
    print(f"{'variant':<50}{'wall s':>8}{'cpu s':>8}{'x wall':>8}{'x cpu':>8}")
    for row in rows:
        row["speedup_wall"] = round(base["wall_s"] / row["wall_s"], 2)
        row["speedup_cpu"] = round(base["cpu_s"] / row["cpu_s"], 2)
        print(f"{row['variant']:<50}{row['wall_s']:>8.2f}{row['cpu_s']:>8.2f}"
              f"{row['speedup_wall']:>8.2f}{row['speedup_cpu']:>8.2f}")  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(
        json.dumps({"threads": args.threads, "articles": len(texts), "rows": rows}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
