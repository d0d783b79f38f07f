"""The trained two-stage stance detector (FNC-1), loaded from a model folder.

Stage 1 decides related vs unrelated, stage 2 agree / disagree / discuss for related pairs;
both are LightGBM models over `services.stance.features` (frozen MiniLM similarities of the
claim against the article's sentences, lexical overlap, refuting/hedging/negation cues).
When the folder also holds a cross-encoder delta (`services.stance.cross`), its stage-2
probabilities are blended in with the weight tuned on the hold-out.
The folder holds LightGBM text models, the IDF table and a `stance_model.json` manifest;
`evaluation/train_stance.py` (and `evaluation/train_stance_cross.py`) write it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm as lgb
import numpy as np

from services.documents import STANCE_LABELS, Document, Evidence, Stance
from services.errors import ModelLoadError
from services.stance.features import FEATURE_NAMES, LexicalModel, claim_matrix
from services.stance.similarity import top_evidence

if TYPE_CHECKING:  # the cross-encoder (torch) loads only when a model folder ships one
    from services.stance.cross import StanceCrossEncoder

logger = logging.getLogger(__name__)

MANIFEST = "stance_model.json"
FORMAT_VERSION = 1
STAGE2_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss")
# Below this P(related) a pair is unrelated whatever stage 2 says: skip the cross-encoder.
CROSS_ENCODER_MIN_RELATED = 0.2


@dataclass(frozen=True)
class DecisionRule:
    """How probabilities become a label: related when P(related) ≥ `related_threshold`, then
    the stage-2 label maximising probability × `class_weights` (tuned on the hold-out)."""

    related_threshold: float = 0.5
    class_weights: tuple[float, float, float] = (1.0, 1.0, 1.0)


def combine(
    p_related: np.ndarray, p_stage2: np.ndarray, rule: DecisionRule
) -> tuple[np.ndarray, list[str]]:
    """Four-label probabilities (STANCE_LABELS order, rows sum to 1) and the decided labels."""
    p_related = np.clip(np.asarray(p_related, dtype=np.float64), 0.0, 1.0)
    p_stage2 = np.asarray(p_stage2, dtype=np.float64)
    p_stage2 = p_stage2 / p_stage2.sum(axis=1, keepdims=True)
    probs = np.column_stack([p_stage2 * p_related[:, None], 1.0 - p_related])
    weighted = p_stage2 * np.asarray(rule.class_weights)[None, :]
    stage2 = [STAGE2_LABELS[int(i)] for i in weighted.argmax(axis=1)]
    labels = [
        lab if pr >= rule.related_threshold else "unrelated"
        for lab, pr in zip(stage2, p_related, strict=True)
    ]
    return probs, labels


class TrainedStanceDetector:
    """`StanceDetector` backed by the trained FNC-1 models; construct with `load(folder)`."""

    def __init__(
        self,
        stage1: lgb.Booster,
        stage2: lgb.Booster,
        lexical: LexicalModel,
        rule: DecisionRule,
        *,
        cross_encoder: StanceCrossEncoder | None = None,
        cross_encoder_weight: float = 0.0,
        evidence_k: int = 3,
        evidence_min_score: float = 0.25,
    ) -> None:
        self.cross_encoder = cross_encoder
        self.cross_encoder_weight = cross_encoder_weight if cross_encoder is not None else 0.0
        self.stage1 = stage1
        self.stage2 = stage2
        self.lexical = lexical
        self.rule = rule
        self.evidence_k = evidence_k
        self.evidence_min_score = evidence_min_score

    @classmethod
    def load(
        cls, folder: str | Path, base_model_path: str | Path | None = None
    ) -> TrainedStanceDetector:
        """Load the model folder; raise ModelLoadError naming the cause if it is unusable.

        `base_model_path` is the all-MiniLM-L6-v2 folder a cross-encoder delta applies to
        (default: the packaged one); it is only read when the folder ships such a delta.
        """
        path = Path(folder)
        manifest_path = path / MANIFEST
        if not manifest_path.is_file():
            raise ModelLoadError(f"no stance model in {path} (missing {MANIFEST})")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            if manifest.get("format_version") != FORMAT_VERSION:
                raise ModelLoadError(
                    f"stance model in {path} has format {manifest.get('format_version')!r}, "
                    f"this code reads {FORMAT_VERSION}"
                )
            if tuple(manifest["feature_names"]) != FEATURE_NAMES:
                raise ModelLoadError(
                    f"stance model in {path} was trained on other features than this code makes"
                )
            idf = json.loads((path / manifest["idf_file"]).read_text(encoding="utf-8"))
            stage1 = lgb.Booster(model_file=str(path / manifest["stage1_file"]))
            stage2 = lgb.Booster(model_file=str(path / manifest["stage2_file"]))
            rule = DecisionRule(
                related_threshold=float(manifest["decision"]["related_threshold"]),
                class_weights=tuple(float(w) for w in manifest["decision"]["class_weights"]),  # type: ignore[arg-type]
            )
        except ModelLoadError:
            raise
        except (OSError, ValueError, KeyError, TypeError, lgb.basic.LightGBMError) as exc:
            raise ModelLoadError(f"stance model in {path} is unreadable: {exc}") from exc
        for name, booster, classes in (("stage 1", stage1, 1), ("stage 2", stage2, 3)):
            if (
                booster.num_feature() != len(FEATURE_NAMES)
                or booster.num_model_per_iteration() != classes
            ):
                raise ModelLoadError(f"stance model in {path}: {name} has the wrong shape")
        cross_encoder, weight = None, 0.0
        cross = manifest.get("cross_encoder")
        if cross and float(cross.get("weight", 0.0)) > 0.0:
            from services.embeddings.minilm import packaged_minilm_path

            base = base_model_path if base_model_path is not None else packaged_minilm_path()
            from services.stance.cross import StanceCrossEncoder

            cross_encoder = StanceCrossEncoder.load(path, base)
            weight = float(cross["weight"])
        logger.info("loaded stance model from %s", path)
        return cls(
            stage1,
            stage2,
            LexicalModel(idf),
            rule,
            cross_encoder=cross_encoder,
            cross_encoder_weight=weight,
        )

    def probabilities(
        self, features: np.ndarray, cross_inputs: tuple[Sequence[str], Sequence[str]] | None = None
    ) -> tuple[np.ndarray, list[str]]:
        """Four-label probabilities and labels for rows of `FEATURE_NAMES` features.

        `cross_inputs` (claims, evidence passages) feed the cross-encoder, when there is one;
        it runs only on the pairs stage 1 does not already call clearly unrelated.
        """
        if len(features) == 0:
            return np.zeros((0, len(STANCE_LABELS))), []
        p_related = np.asarray(self.stage1.predict(features, num_threads=1))
        p_stage2 = np.asarray(self.stage2.predict(features, num_threads=1))
        if self.cross_encoder is not None and self.cross_encoder_weight > 0 and cross_inputs:
            idx = [i for i, p in enumerate(p_related) if p >= CROSS_ENCODER_MIN_RELATED]
            if idx:
                claims, passages = cross_inputs
                p_cross = self.cross_encoder.predict(
                    [claims[i] for i in idx], [passages[i] for i in idx]
                )
                w = self.cross_encoder_weight
                p_stage2[idx] = (1.0 - w) * p_stage2[idx] + w * p_cross
        return combine(p_related, p_stage2, self.rule)

    def detect(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> list[Stance]:
        if not claims:
            return []
        features = claim_matrix(claims, claim_vectors, document, sentence_vectors, self.lexical)
        cross_inputs = None
        if self.cross_encoder is not None and document.sentences:
            from services.stance.cross import evidence_passage

            passages = [evidence_passage(document, sentence_vectors @ v) for v in claim_vectors]
            cross_inputs = (list(claims), passages)
        probs, labels = self.probabilities(features, cross_inputs)
        results = []
        for claim, vector, row, label in zip(claims, claim_vectors, probs, labels, strict=True):
            evidence: tuple[Evidence, ...] = ()
            if document.sentences:
                evidence = top_evidence(
                    document, sentence_vectors @ vector, self.evidence_k, self.evidence_min_score
                )
            scores = {lab: float(p) for lab, p in zip(STANCE_LABELS, row, strict=True)}
            results.append(Stance(claim=claim, label=label, scores=scores, evidence=evidence))
        return results
