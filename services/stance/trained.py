"""The trained stance detector, loaded from a model folder.

Stage 1 decides related vs unrelated, stage 2 agree / disagree / discuss for related pairs;
both are LightGBM models over `services.stance.features` (frozen MiniLM similarities of the
claim against the article's sentences, lexical overlap, refuting/hedging/negation cues).
When the folder ships a claim verifier (a MiniLM cross-encoder delta in `verifier/`), each
related claim's evidence sentences get a verdict (supports / refutes / neutral), and the
article's agree / disagree / discuss comes from those verdicts and stage 2's probabilities
together (`services.stance.verdicts`). `evaluation/train_stance.py`,
`evaluation/train_verifier.py` and `evaluation/train_verdicts.py` write the folder: LightGBM
text models, the IDF table, the verifier and a `stance_model.json` manifest.
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
from services.stance.verdicts import VERDICTS, VerdictAggregator, verdict_features, with_verdicts

if TYPE_CHECKING:  # the verifier (torch) loads only when a model folder ships one
    from services.stance.cross import StanceCrossEncoder

logger = logging.getLogger(__name__)

MANIFEST = "stance_model.json"
FORMAT_VERSION = 1
STAGE2_LABELS: tuple[str, ...] = ("agree", "disagree", "discuss")
# Below this P(related) a pair is unrelated whatever the verifier says: it is not run.
VERIFIER_MIN_RELATED = 0.2
VERIFIER_FOLDER = "verifier"


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


def shipped_aggregator(folder: str | Path) -> VerdictAggregator | None:
    """The verdict-only aggregator a stance model folder ships (None without a verifier entry),
    for the other verdict backends (NLI) to aggregate as the trained verifier does."""
    path = Path(folder) / MANIFEST
    try:
        entry = json.loads(path.read_text(encoding="utf-8")).get("verifier")
        if not entry:
            return None
        agg = VerdictAggregator.from_json(entry.get("verdict_aggregator") or entry["aggregator"])
        return None if agg.uses_stage2 else agg
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"stance model in {folder}: bad verifier entry: {exc}") from exc


class TrainedStanceDetector:
    """`StanceDetector` backed by the trained models; construct with `load(folder)`."""

    def __init__(
        self,
        stage1: lgb.Booster,
        stage2: lgb.Booster,
        lexical: LexicalModel,
        rule: DecisionRule,
        *,
        verifier: StanceCrossEncoder | None = None,
        aggregator: VerdictAggregator | None = None,
        evidence_k: int = 3,
        evidence_min_score: float = 0.25,
    ) -> None:
        if (verifier is None) != (aggregator is None):
            raise ValueError("a verifier needs its aggregator, and the other way round")
        self.stage1 = stage1
        self.stage2 = stage2
        self.lexical = lexical
        self.rule = rule
        self.verifier = verifier
        self.aggregator = aggregator
        self.evidence_k = evidence_k
        self.evidence_min_score = evidence_min_score

    @classmethod
    def load(
        cls,
        folder: str | Path,
        base_model_path: str | Path | None = None,
        *,
        stages_only: bool = False,
    ) -> TrainedStanceDetector:
        """Load the model folder; raise ModelLoadError naming the cause if it is unusable.

        `base_model_path` is the all-MiniLM-L6-v2 folder a cross-encoder delta applies to
        (default: the packaged one); it is only read when the folder ships such a delta.
        `stages_only`: stages 1 and 2 alone, without the verifier and its aggregator (what
        `evaluation.train_verdicts` fits a new aggregator on).
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
        verifier, aggregator = None, None
        if manifest.get("verifier") and not stages_only:
            from services.embeddings.minilm import packaged_minilm_path
            from services.stance.cross import StanceCrossEncoder

            base = base_model_path if base_model_path is not None else packaged_minilm_path()
            verifier = StanceCrossEncoder.load(path / VERIFIER_FOLDER, base)
            if verifier.labels != VERDICTS:
                raise ModelLoadError(
                    f"the verifier in {path} says {verifier.labels}, not {VERDICTS}"
                )
            try:
                aggregator = VerdictAggregator.from_json(manifest["verifier"]["aggregator"])
                weights = tuple(float(w) for w in manifest["verifier"]["class_weights"])
            except (KeyError, TypeError, ValueError) as exc:
                raise ModelLoadError(f"stance model in {path}: bad verifier entry: {exc}") from exc
            rule = DecisionRule(rule.related_threshold, weights)  # type: ignore[arg-type]
        logger.info("loaded stance model from %s", path)
        return cls(
            stage1, stage2, LexicalModel(idf), rule, verifier=verifier, aggregator=aggregator
        )

    def verify(
        self,
        claims: Sequence[str],
        evidence: Sequence[Sequence[Evidence]],
        todo: Sequence[int],
        p_stage2: np.ndarray,
    ) -> tuple[np.ndarray, dict[int, np.ndarray]]:
        """For the claims at `todo`: agree / disagree / discuss probabilities from the verdicts
        on their evidence sentences (and stage 2's, where the aggregator reads them; rows in
        `todo` order), and each claim's verdicts. All the pairs go through the verifier
        together."""
        assert self.verifier is not None and self.aggregator is not None
        pairs = [(i, e.text) for i in todo for e in evidence[i]]
        probs = self.verifier.predict([claims[i] for i, _ in pairs], [t for _, t in pairs])
        verdicts: dict[int, np.ndarray] = {}
        rows, at = [], 0
        for i in todo:
            n = len(evidence[i])
            verdicts[i] = probs[at : at + n]
            at += n
            texts = [e.text for e in evidence[i]]
            sims = [e.score for e in evidence[i]]
            stage2 = p_stage2[i] if self.aggregator.uses_stage2 else None
            rows.append(verdict_features(claims[i], texts, sims, verdicts[i], stage2))
        return self.aggregator.probabilities(np.array(rows)), verdicts

    def stage_probabilities(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> tuple[np.ndarray, np.ndarray]:
        """P(related) per claim (stage 1) and its agree / disagree / discuss rows (stage 2)."""
        features = claim_matrix(claims, claim_vectors, document, sentence_vectors, self.lexical)
        p_related = np.asarray(self.stage1.predict(features, num_threads=1))
        return p_related, np.asarray(self.stage2.predict(features, num_threads=1))

    def detect(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> list[Stance]:
        if not claims:
            return []
        p_related, p_stage2 = self.stage_probabilities(
            claims, document, sentence_vectors, claim_vectors
        )
        evidence: list[tuple[Evidence, ...]] = [
            top_evidence(document, sentence_vectors @ v, self.evidence_k, self.evidence_min_score)
            if document.sentences
            else ()
            for v in claim_vectors
        ]
        verdicts: dict[int, np.ndarray] = {}
        if self.verifier is not None:
            todo = [i for i, p in enumerate(p_related) if p >= VERIFIER_MIN_RELATED and evidence[i]]
            if todo:
                p_stage2[todo], verdicts = self.verify(claims, evidence, todo, p_stage2)
        probs, labels = combine(p_related, p_stage2, self.rule)
        results = []
        for i, (claim, row, label) in enumerate(zip(claims, probs, labels, strict=True)):
            found = evidence[i]
            if i in verdicts and label != "unrelated":
                found = with_verdicts(found, verdicts[i], label)
            scores = {lab: float(p) for lab, p in zip(STANCE_LABELS, row, strict=True)}
            results.append(Stance(claim=claim, label=label, scores=scores, evidence=found))
        return results
