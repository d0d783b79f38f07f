"""FNC-1 data access for training and evaluation: files read in place, embeddings cached.

The data folder comes from one setting, `NEWSNLP_DATA_DIR` (default `../shared/data`
relative to the repository root); nothing is copied into the repository. Derived files
(sentence embeddings keyed by a hash of their content) go under `var/cache/`.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import os
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from services.documents import Document
from services.embeddings.reference import SentenceEncoder
from services.text.cleaning import clean_article

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
CACHE_DIR = REPO_ROOT / "var" / "cache" / "stance"
# Part of every cache key: bump to drop all cached vectors (e.g. another encoder).
SENTENCE_RECIPE = "all-MiniLM-L6-v2/max128"


def data_dir() -> Path:
    """The shared data folder: `NEWSNLP_DATA_DIR`, default ../shared/data from the repo root."""
    return Path(os.environ.get("NEWSNLP_DATA_DIR", REPO_ROOT.parent / "shared" / "data"))


def fnc_dir() -> Path:
    return data_dir() / "fnc1"


@dataclass(frozen=True)
class Pair:
    headline: str
    body_id: int
    stance: str


def _fnc_file(name: str) -> Path:
    path = fnc_dir() / name
    if not path.is_file():
        raise FileNotFoundError(f"FNC-1 file {path} not found: set NEWSNLP_DATA_DIR")
    return path


def load_bodies(split: str) -> dict[int, str]:
    """Body ID → article body for `split` in {"train", "competition_test"}."""
    with open(_fnc_file(f"{split}_bodies.csv"), encoding="utf-8", newline="") as fh:
        return {int(row["Body ID"]): row["articleBody"] for row in csv.DictReader(fh)}


def load_pairs(split: str) -> list[Pair]:
    with open(_fnc_file(f"{split}_stances.csv"), encoding="utf-8", newline="") as fh:
        return [
            Pair(row["Headline"], int(row["Body ID"]), row["Stance"]) for row in csv.DictReader(fh)
        ]


def body_document(body: str) -> Document:
    """The Document the service would see for this body (cleaned, split, no title given)."""
    return clean_article(body, title=None)


def _key(kind: str, text: str) -> str:
    h = hashlib.sha256(f"{kind}\0{SENTENCE_RECIPE}\0{text}".encode()).hexdigest()
    return h[:32]


class EmbeddingCache:
    """MiniLM vectors of texts and of bodies' sentences, one .npy file per content hash."""

    def __init__(self, encoder: SentenceEncoder | None, root: Path = CACHE_DIR) -> None:
        self.encoder = encoder
        self.root = root / "embeddings"
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def _get(self, key: str, texts: Sequence[str]) -> np.ndarray:
        path = self._path(key)
        if path.is_file():
            return np.load(path)
        if self.encoder is None:
            raise KeyError(f"no cached vectors for {key} and no encoder to compute them")
        vectors = self.encoder.encode(list(texts)).astype(np.float32)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)  # atomic: an interrupted run leaves no half file behind
        return vectors

    def body_vectors(self, body: str, document: Document) -> np.ndarray:
        """Vectors of the document's sentences, keyed by those sentences' text: a change in
        cleaning or splitting re-embeds exactly the bodies it changes."""
        texts = [s.text for s in document.sentences]
        return self._get(_key("sentences", "\n".join(texts)), texts)

    def text_vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Vectors of many short texts (headlines), computed in batches for the missing ones."""
        keys = [_key("text", t) for t in texts]
        missing = [i for i, k in enumerate(keys) if not self._path(k).is_file()]
        if missing and self.encoder is not None:
            vectors = self.encoder.encode([texts[i] for i in missing]).astype(np.float32)
            for i, v in zip(missing, vectors, strict=True):
                self._get_or_put(keys[i], v[None, :])
        return (
            np.concatenate([np.load(self._path(k)) for k in keys])
            if keys
            else np.zeros((0, 384), np.float32)
        )

    def _get_or_put(self, key: str, vectors: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npy")
        np.save(tmp, vectors)
        tmp.replace(path)


@dataclass(frozen=True)
class BodyGroup:
    """The pairs of one body: their row numbers, the body's document and cached vectors."""

    rows: list[int]
    document: Document
    sentence_vectors: np.ndarray
    claims: list[str]
    claim_vectors: np.ndarray


def body_groups(
    pairs: Sequence[Pair], bodies: dict[int, str], cache: EmbeddingCache, label: str
) -> Iterator[BodyGroup]:
    """The pairs grouped by body (in body-id order), as the service sees them: one document
    and one set of sentence vectors per body, the claims' vectors beside them."""
    headlines = sorted({p.headline for p in pairs})
    head_vec = dict(zip(headlines, cache.text_vectors(headlines), strict=True))
    by_body: dict[int, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        by_body[p.body_id].append(i)
    t0 = time.perf_counter()
    for n, (body_id, rows) in enumerate(sorted(by_body.items()), start=1):
        body = bodies[body_id]
        document = body_document(body)
        claims = [pairs[i].headline for i in rows]
        yield BodyGroup(
            rows=rows,
            document=document,
            sentence_vectors=cache.body_vectors(body, document),
            claims=claims,
            claim_vectors=np.stack([head_vec[c] for c in claims]),
        )
        if n % 200 == 0:
            logger.info("%s: %d/%d bodies, %.0fs", label, n, len(by_body), time.perf_counter() - t0)


def embed_split(split: str, cache: EmbeddingCache) -> None:
    """Fill the cache for one split: every body's sentences, every unique headline."""
    bodies = load_bodies(split)
    for n, (body_id, body) in enumerate(sorted(bodies.items()), start=1):
        cache.body_vectors(body, body_document(body))
        if n % 100 == 0:
            logger.info("%s: embedded %d/%d bodies (last id %d)", split, n, len(bodies), body_id)
    headlines = sorted({p.headline for p in load_pairs(split)})
    cache.text_vectors(headlines)
    logger.info("%s: %d bodies, %d unique headlines embedded", split, len(bodies), len(headlines))


def main() -> None:
    import torch

    from services.embeddings.minilm import packaged_minilm_path

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    torch.set_num_threads(1)
    cache = EmbeddingCache(SentenceEncoder(packaged_minilm_path()))
    for split in ("train", "competition_test"):
        embed_split(split, cache)


if __name__ == "__main__":
    main()
