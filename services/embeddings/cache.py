"""A bounded LRU cache of sentence vectors, by content hash, around any encoder."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from services.embeddings.batching import TextEncoder
from services.embeddings.minilm import EMBEDDING_DIM


class CachingEncoder:
    """Vectors of texts already embedded, by content hash, at most `max_entries` (LRU).

    One entry is 384 float32 (1.5 kB) plus its key: 20,000 entries are about 35 MB.
    """

    def __init__(self, encoder: TextEncoder, max_entries: int = 20_000) -> None:
        self.encoder = encoder
        self.max_entries = max_entries
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def _key(text: str) -> bytes:
        return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), EMBEDDING_DIM), dtype=np.float32)
        keys = [self._key(t) for t in texts]
        missing: dict[bytes, list[int]] = {}
        for i, key in enumerate(keys):
            vector = self._vectors.get(key)
            if vector is None:
                missing.setdefault(key, []).append(i)
            else:
                self._vectors.move_to_end(key)
                out[i] = vector
        self.hits += len(texts) - sum(len(rows) for rows in missing.values())
        self.misses += len(missing)
        if missing:
            vectors = self.encoder.encode([texts[rows[0]] for rows in missing.values()])
            for (key, rows), vector in zip(missing.items(), vectors, strict=True):
                out[rows] = vector
                self._vectors[key] = vector.copy()
            while len(self._vectors) > self.max_entries:
                self._vectors.popitem(last=False)
        return out

    def clear(self) -> None:
        self._vectors.clear()
        self.hits = self.misses = 0
