"""Shared fixtures: the real MiniLM encoder (loaded once), data paths, the reference article."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The shared evaluation data folder (`NEWSNLP_DATA_DIR`, default ../shared/data)."""
    return Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


REFERENCE_ARTICLE = data_dir() / "samples" / "000_71cd1386a0965eff.txt"
REFERENCE_TITLE = "Kerry arrives in Russia to push Putin on Ukraine crisis"
CLUTTER = ("Add a comment", "Sort by", "There are no comments yet")


@pytest.fixture(scope="session")
def reference_text() -> str:
    if not REFERENCE_ARTICLE.is_file():
        pytest.skip(f"reference article not found at {REFERENCE_ARTICLE} (set NEWSNLP_DATA_DIR)")
    return REFERENCE_ARTICLE.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def encoder():
    from services.embeddings.minilm import packaged_minilm_path
    from services.embeddings.reference import SentenceEncoder

    return SentenceEncoder(packaged_minilm_path())
