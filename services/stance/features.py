"""Features of a (claim, article) pair for the trained stance detector.

One function computes them for training and for the service alike, from the same inputs the
service has: the cleaned Document, its L2-normalised MiniLM sentence vectors and the claim's
vector. Lexical weights (IDF) are fitted on the training bodies and shipped with the model.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from itertools import repeat
from operator import mul

import numpy as np

from services.documents import Document

_TOKEN = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")

# Small function-word list: overlap and TF-IDF should be about content words. Negations are
# deliberately absent here; they are counted as cues instead.
STOPWORDS = frozenset(
    """
    a an the and or but if then so of to in on at by for from with about as into over after
    before under between through during is are was were be been being am do does did has have
    had having it its it's this that these those there here he she they we you i me him her
    them us our your their his my mine what which who whom whose when where why how all any
    both each few more most other some such only own same than too very s t can will just
    should now would could also says said say just up out off again further once
    """.split()
)

REFUTING = frozenset(
    """
    fake fraud hoax false deny denies denied denying debunk debunked debunks refute refutes
    refuted refuting untrue bogus myth lie lies lying incorrect wrong misleading fabricated
    dismiss dismissed dismisses reject rejected rejects retract retracted retraction
    doubt doubts doubtful skeptical sceptical baseless unfounded satire satirical prank
    """.split()
)
HEDGING = frozenset(
    """
    reportedly allegedly alleged apparently purportedly supposedly rumor rumors rumour rumours
    rumored rumoured unconfirmed unverified claim claims claimed claiming report reports
    reported according may might could possibly perhaps likely unclear believed suggest
    suggests suggested appears appear seems seem speculation speculate speculated
    """.split()
)
NEGATION = frozenset(
    """
    not no never none nothing nobody neither nor without n't isn't wasn't aren't weren't
    don't doesn't didn't won't wouldn't can't cannot couldn't hasn't haven't hadn't
    """.split()
)
CONFIRMING = frozenset(
    """
    confirm confirms confirmed confirming official officially announced announces announce
    verified verify true indeed proof proves proven evidence revealed reveals shows showed
    """.split()
)
CUES: tuple[tuple[str, frozenset[str]], ...] = (
    ("refute", REFUTING),
    ("hedge", HEDGING),
    ("neg", NEGATION),
    ("confirm", CONFIRMING),
)


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower().replace("\u2019", "'"))


def content_tokens(tokens: Iterable[str]) -> list[str]:
    return [t for t in tokens if t not in STOPWORDS and t not in NEGATION and len(t) > 1]


def fit_idf(texts: Iterable[str], min_df: int = 2) -> dict[str, float]:
    """Smoothed IDF (scikit-learn's formula) of content tokens seen in at least `min_df` texts."""
    df: Counter[str] = Counter()
    n = 0
    for text in texts:
        n += 1
        df.update(set(content_tokens(tokenize(text))))
    return {t: math.log((1 + n) / (1 + c)) + 1.0 for t, c in df.items() if c >= min_df}


@dataclass(frozen=True)
class LexicalModel:
    """IDF weights; unseen tokens get `default_idf` (the rarest seen)."""

    idf: Mapping[str, float]

    @cached_property
    def default_idf(self) -> float:
        # Once per model: the max over the whole vocabulary took half of the stance time.
        return max(self.idf.values(), default=1.0)

    def vector(self, tokens: Sequence[str]) -> dict[str, float]:
        default = self.default_idf
        counts = Counter(content_tokens(tokens))
        return {t: (1.0 + math.log(c)) * self.idf.get(t, default) for t, c in counts.items()}


def _cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    if len(a) > len(b):
        a, b = b, a
    # The same products added in the same order as a generator would, without its frames
    # (this is most of the stance stage's time).
    dot = sum(map(mul, a.values(), map(b.get, a.keys(), repeat(0.0))))
    na = math.sqrt(sum(map(mul, a.values(), a.values())))
    nb = math.sqrt(sum(map(mul, b.values(), b.values())))
    return dot / (na * nb) if na and nb else 0.0


def _cue_counts(tokens: Sequence[str]) -> list[int]:
    return [sum(map(lexicon.__contains__, tokens)) for _, lexicon in CUES]


def _bigrams(tokens: Sequence[str]) -> set[tuple[str, str]]:
    return set(zip(tokens, tokens[1:], strict=False))


@dataclass(frozen=True)
class DocumentView:
    """What the features need of a document, computed once and shared by all its claims."""

    tokens: tuple[tuple[str, ...], ...]
    body_vector: dict[str, float]
    sentence_tfidf: tuple[dict[str, float], ...]
    body_tokens: frozenset[str]
    body_bigrams: frozenset[tuple[str, str]]
    body_numbers: frozenset[str]
    cues: np.ndarray  # (n_sentences, len(CUES)) counts
    centroid: np.ndarray


def document_view(
    document: Document, sentence_vectors: np.ndarray, lex: LexicalModel
) -> DocumentView:
    tokens = tuple(tuple(tokenize(s.text)) for s in document.sentences)
    flat = [t for sent in tokens for t in sent]
    content = content_tokens(flat)
    centroid = sentence_vectors.mean(axis=0) if len(sentence_vectors) else np.zeros(384)
    norm = float(np.linalg.norm(centroid))
    return DocumentView(
        tokens=tokens,
        body_vector=lex.vector(flat),
        sentence_tfidf=tuple(lex.vector(sent) for sent in tokens),
        body_tokens=frozenset(content),
        body_bigrams=frozenset(_bigrams(content)),
        body_numbers=frozenset(_NUMBER.findall(document.body)),
        cues=np.array([_cue_counts(sent) for sent in tokens], dtype=np.float32).reshape(
            len(tokens), len(CUES)
        ),
        centroid=centroid / norm if norm else centroid,
    )


def _feature_names() -> list[str]:
    names = [
        "sim_max", "sim_top2", "sim_top3", "sim_mean", "sim_std", "sim_min",
        "sim_argmax_rel", "sim_argmax_idx", "sim_first", "sim_first3_max",
        "sim_frac_03", "sim_frac_05", "sim_frac_07", "sim_n_05", "sim_centroid",
        "sim_second_gap", "log_sentences", "log_words",
        "tfidf_body", "tfidf_sent_max", "tfidf_best_sent", "tfidf_top3",
        "overlap_body", "overlap_body_idf", "overlap_top3", "overlap_bigram", "overlap_numbers",
        "claim_tokens", "claim_content_tokens", "claim_question", "claim_quote",
    ]  # fmt: skip
    for name, _ in CUES:
        names += [
            f"claim_{name}",
            f"top1_{name}",
            f"top3_{name}",
            f"body_{name}_rate",
            f"body_{name}_simw",
            f"first3_{name}",
        ]
    names += ["claim_refute_parity", "top3_refute_neg_parity"]
    return names


FEATURE_NAMES: tuple[str, ...] = tuple(_feature_names())


def pair_features(
    claim: str,
    claim_vector: np.ndarray,
    view: DocumentView,
    sentence_vectors: np.ndarray,
    lex: LexicalModel,
) -> np.ndarray:
    """The feature row of one (claim, document) pair, in FEATURE_NAMES order."""
    n = len(view.tokens)
    sims = sentence_vectors @ claim_vector if n else np.zeros(1, dtype=np.float32)
    order = np.argsort(-sims, kind="stable")
    top = order[:3]
    ranked = sims[order]
    best = int(order[0])
    claim_tokens = tokenize(claim)
    claim_content = content_tokens(claim_tokens)
    claim_vec = lex.vector(claim_tokens)
    default = lex.default_idf

    top3_tokens = {t for i in top if i < n for t in view.tokens[i]}
    idf_total = sum(lex.idf.get(t, default) for t in set(claim_content))
    idf_hit = sum(lex.idf.get(t, default) for t in set(claim_content) if t in view.body_tokens)
    claim_bigrams = _bigrams(claim_content)
    claim_numbers = set(_NUMBER.findall(claim))
    uniq = set(claim_content)

    row: list[float] = [
        float(ranked[0]),
        float(ranked[:2].mean()),
        float(ranked[:3].mean()),
        float(sims.mean()),
        float(sims.std()),
        float(sims.min()),
        best / max(n - 1, 1),
        float(min(best, 30)),
        float(sims[0]),
        float(sims[:3].max()),
        float((sims > 0.3).mean()),
        float((sims > 0.5).mean()),
        float((sims > 0.7).mean()),
        float((sims > 0.5).sum()),
        float(view.centroid @ claim_vector) if n else 0.0,
        float(ranked[0] - ranked[1]) if len(ranked) > 1 else 0.0,
        math.log1p(n),
        math.log1p(sum(len(t) for t in view.tokens)),
        _cosine(claim_vec, view.body_vector),
        max((_cosine(claim_vec, v) for v in view.sentence_tfidf), default=0.0),
        _cosine(claim_vec, view.sentence_tfidf[best]) if n else 0.0,
        float(np.mean([_cosine(claim_vec, view.sentence_tfidf[i]) for i in top if i < n]))
        if n
        else 0.0,
        len(uniq & view.body_tokens) / max(len(uniq), 1),
        idf_hit / idf_total if idf_total else 0.0,
        len(uniq & top3_tokens) / max(len(uniq), 1),
        len(claim_bigrams & view.body_bigrams) / max(len(claim_bigrams), 1),
        len(claim_numbers & view.body_numbers) / len(claim_numbers) if claim_numbers else -1.0,
        float(len(claim_tokens)),
        float(len(claim_content)),
        float("?" in claim),
        float(any(q in claim for q in "\"'‘’“”")),
    ]
    claim_cues = _cue_counts(claim_tokens)
    if n:
        weights = np.clip(sims, 0.0, None)
        weights = weights / weights.sum() if weights.sum() > 0 else np.full(n, 1.0 / n)
        top1 = view.cues[best]
        top3 = view.cues[top].sum(axis=0)
        rate = view.cues.mean(axis=0)
        simw = weights @ view.cues
        first3 = view.cues[:3].sum(axis=0)
    else:
        top1 = top3 = rate = simw = first3 = np.zeros(len(CUES), dtype=np.float32)
    for j in range(len(CUES)):
        row += [
            float(claim_cues[j]),
            float(top1[j]),
            float(top3[j]),
            float(rate[j]),
            float(simw[j]),
            float(first3[j]),
        ]
    refute, neg = 0, 2
    row += [
        float((claim_cues[refute] + claim_cues[neg]) % 2),
        float((top3[refute] + top3[neg]) % 2),
    ]
    return np.asarray(row, dtype=np.float32)


def claim_matrix(
    claims: Sequence[str],
    claim_vectors: np.ndarray,
    document: Document,
    sentence_vectors: np.ndarray,
    lex: LexicalModel,
) -> np.ndarray:
    """Feature rows of several claims against one document (the document is prepared once)."""
    view = document_view(document, sentence_vectors, lex)
    rows = [
        pair_features(c, v, view, sentence_vectors, lex)
        for c, v in zip(claims, claim_vectors, strict=True)
    ]
    return np.stack(rows) if rows else np.zeros((0, len(FEATURE_NAMES)), dtype=np.float32)
