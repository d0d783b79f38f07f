"""Bake a Hugging Face model into an image at build time: `fetch_model.py DEST REPO_ID [REVISION]`.

Run by docker/Dockerfile (worker target) for the SUMMARIZER_MODEL and NLI_MODEL build
arguments. An empty REPO_ID does nothing, so the same RUN line serves images without a
baked model. Only the PyTorch weights and the tokenizer are kept: TensorFlow, Flax, ONNX
and Rust copies are skipped, and `.bin` weights too when `.safetensors` ones exist.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

logger = logging.getLogger("fetch_model")

# Weights for frameworks the worker does not run.
OTHER_FRAMEWORKS = [
    "*.h5",
    "*.msgpack",
    "*.ot",
    "*.onnx",
    "*.onnx_data",
    "*.tflite",
    "onnx/*",
    "openvino/*",
    "coreml/*",
]


def ignore_patterns(repo_files: list[str]) -> list[str]:
    """The files of a model repository not to download."""
    patterns = list(OTHER_FRAMEWORKS)
    if any(name.endswith(".safetensors") for name in repo_files):
        patterns.append("*.bin")
    return patterns


def fetch(dest: Path, repo_id: str, revision: str = "main") -> Path:
    """Download `repo_id` at `revision` into `dest`; fails loudly if it is not a model."""
    from huggingface_hub import HfApi, snapshot_download

    files = HfApi().list_repo_files(repo_id, revision=revision)
    snapshot_download(
        repo_id,
        revision=revision,
        local_dir=dest,
        ignore_patterns=ignore_patterns(files),
    )
    if not (dest / "config.json").is_file():
        raise SystemExit(f"{repo_id}@{revision} has no config.json: not a transformers model")
    # The download cache inside the folder is of no use in an image.
    cache = dest / ".cache"
    if cache.is_dir():
        for path in sorted(cache.rglob("*"), reverse=True):
            path.rmdir() if path.is_dir() else path.unlink()
        cache.rmdir()
    return dest


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if len(argv) not in (2, 3):
        logger.error("usage: fetch_model.py DEST REPO_ID [REVISION]")
        return 2
    dest, repo_id = Path(argv[0]), argv[1].strip()
    revision = (argv[2].strip() if len(argv) == 3 else "") or "main"
    if not repo_id:
        logger.info("no model named for %s: nothing to bake in", dest)
        return 0
    fetch(dest, repo_id, revision)
    logger.info("baked %s@%s into %s", repo_id, revision, dest)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
