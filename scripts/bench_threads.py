"""Two threads for one encoder: torch's intra-op threads, or the encoder's own threads.

    python -m scripts.bench_threads [--articles 100] [--repeats 3]

The same articles' sentences and claims, one article per `encode` call, with the worker's
encoder (lean forward, bfloat16 where native, padding-aware batches) run two ways on two
threads: torch's intra-op threads (`torch.set_num_threads(2)`, one batch at a time), and the
encoder's own threads (`threads=2`: each batch split in two, torch at one thread). Each runs
on an idle machine and beside a neighbour process that is busy 1 ms in every 10 ms (about what
the API, Redis and the queue take beside a worker): the measurements alternate, `repeats`
times, so that the machine's drift falls on every variant alike. Prints articles per second
and what the neighbour cost each way. Figures go to var/bench/threads.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from scripts.bench import build_corpus, data_dir, prepare

REPO_ROOT = Path(__file__).resolve().parent.parent

NEIGHBOUR = """
import time
while True:
    t = time.perf_counter()
    while time.perf_counter() - t < 0.001:
        pass
    time.sleep(0.009)
"""


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--articles", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "var" / "bench" / "threads.json")
    args = parser.parse_args(argv)
    import torch

    import worker.runtime  # noqa: F401 - the worker's OpenMP settings, before torch loads
    from services.embeddings.batching import native_bfloat16
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.torch_bert import TorchSentenceEncoder

    try:
        articles, _ = build_corpus(data_dir(), args.articles)
    except FileNotFoundError as exc:
        print(f"skipped: {exc}", file=sys.stderr)
        return 2
    texts = [list(p.texts) for p in prepare(articles)]
    dtype = "bfloat16" if native_bfloat16() else "float32"
    encoders = {
        "torch intra-op threads (2), one batch at a time": (
            2, TorchSentenceEncoder(packaged_minilm_path(), dtype=dtype, threads=1)
        ),
        "the encoder's own threads (2), torch at 1": (
            1, TorchSentenceEncoder(packaged_minilm_path(), dtype=dtype, threads=2)
        ),
    }  # fmt: skip
    seconds = {(name, n): 0.0 for name in encoders for n in (False, True)}
    for _ in range(args.repeats):
        for name, (torch_threads, encoder) in encoders.items():
            torch.set_num_threads(torch_threads)
            for text in texts[:3]:
                encoder.encode(text)
            for neighbour in (False, True):
                busy = subprocess.Popen([sys.executable, "-c", NEIGHBOUR]) if neighbour else None
                try:
                    start = time.perf_counter()
                    for text in texts:
                        encoder.encode(text)
                    took = time.perf_counter() - start
                    seconds[name, neighbour] += took
                    rate = len(texts) / took
                    print(f"  {name}, neighbour {neighbour}: {rate:.2f}", file=sys.stderr)
                finally:
                    if busy is not None:
                        busy.kill()
                        busy.wait()
    total = len(texts) * args.repeats
    print(f"{len(texts)} articles x {args.repeats} repeats, {dtype}, embedding only")
    print(f"{'two threads as':<50}{'idle art/s':>12}{'neighbour':>12}{'cost':>8}")
    rows = []
    for name in encoders:
        idle, busy = total / seconds[name, False], total / seconds[name, True]
        rows.append(
            {"variant": name, "idle_art_s": round(idle, 2), "neighbour_art_s": round(busy, 2)}
        )
        print(f"{name:<50}{idle:>12.2f}{busy:>12.2f}{1 - busy / idle:>8.1%}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
