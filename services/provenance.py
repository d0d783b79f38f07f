"""Which model made a result: its name, the version of its artifact files, its runtime.

A version is the sha256 prefix of the artifact's files, hashed in a stable order (each file's
path relative to the folder, its size, then its bytes), so a retrained or re-exported model
reads as a new version and the same files read as the same one on every machine. For a
Hugging Face hub model it is the hub's commit hash where it is known.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from services.errors import ModelLoadError

VERSION_LENGTH = 12
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelInfo:
    """One stage's model: `stage` (encoder, summarizer, stance, stance_verifier)."""

    stage: str
    name: str
    version: str
    runtime: str


def artifact_files(path: Path) -> list[Path]:
    """The files of a model: the file itself, or every file under the folder, sorted by
    their path relative to it (not by the file system's listing order)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise ModelLoadError(f"no model file or folder at {path}")
    return sorted(
        (p for p in path.rglob("*") if p.is_file()), key=lambda p: p.relative_to(path).as_posix()
    )


def fingerprint(paths: Iterable[Path], *, extra: bytes = b"") -> str:
    """The sha256 prefix of the artifact files at `paths` (files or folders) and of `extra`
    (settings that change what the stage computes)."""
    digest = hashlib.sha256()
    for root in paths:
        for file in artifact_files(root):
            name = file.name if file == root else file.relative_to(root).as_posix()
            digest.update(f"{name}\0{file.stat().st_size}\0".encode())
            with file.open("rb") as handle:
                while chunk := handle.read(_CHUNK):
                    digest.update(chunk)
    digest.update(extra)
    return digest.hexdigest()[:VERSION_LENGTH]


def hub_revision(folder: Path) -> str | None:
    """The hub commit of a model folder, where known: `_commit_hash` in its config.json, or
    the folder being a Hugging Face cache snapshot (`.../snapshots/<commit>`)."""
    config = folder / "config.json"
    if config.is_file():
        try:
            commit = json.loads(config.read_text(encoding="utf-8")).get("_commit_hash")
        except (OSError, ValueError, AttributeError):
            commit = None
        if isinstance(commit, str) and _COMMIT.match(commit):
            return commit[:VERSION_LENGTH]
    if folder.parent.name == "snapshots" and _COMMIT.match(folder.name):
        return folder.name[:VERSION_LENGTH]
    return None


def cached_hub_folder(repo_id: str) -> Path | None:
    """The Hugging Face cache's snapshot folder of a hub model id, without the network (None
    when the model is not in the cache)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - installed with transformers
        return None
    try:
        found = try_to_load_from_cache(repo_id, "config.json")
    except ValueError:  # not a valid repo id
        return None
    return Path(found).parent if isinstance(found, str) else None


def model_version(name_or_path: str) -> str:
    """The version of a model named by a folder or a hub id: its hub commit where known,
    else the sha256 prefix of its files."""
    path = Path(name_or_path).expanduser()
    folder = path if path.exists() else cached_hub_folder(name_or_path)
    if folder is None:
        raise ModelLoadError(f"model {name_or_path!r}: neither a folder nor in the hub cache")
    if folder.is_dir():
        revision = hub_revision(folder)
        if revision is not None:
            return revision
    return fingerprint([folder])


def torch_runtime(dtype: str) -> str:
    """The runtime name of a torch model computing in `dtype` (float32 / bfloat16 / ...)."""
    short = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}
    return f"torch {short.get(dtype, dtype)}"
