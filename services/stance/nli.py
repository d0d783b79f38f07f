"""A stance backend over any NLI cross-encoder in the Hugging Face format.

Relatedness comes from the MiniLM similarity of the claim to its best-matching sentence (the
vectors the Analyzer already has); for related claims, an NLI model reads (evidence passage →
claim) sentence by sentence: entailment is the sentence's verdict *supports*, contradiction
*refutes*, neutral *neutral*. Those verdicts become agree / disagree / discuss through the same
aggregation as the trained verifier's (`services.stance.verdicts`), with the aggregator
shipped in the stance model's manifest when there is one; without one, the verdicts averaged
over the evidence (weighted by similarity) read as agree / disagree / discuss. Any
`AutoModelForSequenceClassification` whose `config.id2label` names entailment, neutral and
contradiction works, e.g. `cross-encoder/nli-deberta-v3-base` or
`MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli` (by hub id with internet, or a local folder).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from services.documents import STANCE_LABELS, Document, Stance
from services.errors import ModelLoadError
from services.stance.similarity import top_evidence
from services.stance.verdicts import VerdictAggregator, verdict_features, with_verdicts

logger = logging.getLogger(__name__)

NLI_TO_STANCE = {"entailment": "agree", "contradiction": "disagree", "neutral": "discuss"}


def nli_label_indices(id2label: dict[int, str]) -> dict[str, int]:
    """Index of each of entailment / neutral / contradiction in a model's output.

    Label names vary ("ENTAILMENT", "entail", "contradiction", "CONTRADICT"): match prefixes.
    """
    found: dict[str, int] = {}
    for index, name in id2label.items():
        low = str(name).strip().lower()
        for canonical, prefix in (
            ("entailment", "entail"),
            ("neutral", "neutral"),
            ("contradiction", "contradict"),
        ):
            if low.startswith(prefix):
                found[canonical] = int(index)
    missing = {"entailment", "neutral", "contradiction"} - set(found)
    if missing:
        raise ModelLoadError(
            f"not an NLI model: labels {sorted(id2label.values())} lack {sorted(missing)}"
        )
    return found


class NliStanceDetector:
    """`StanceDetector` over an NLI cross-encoder; construct with `load(name_or_path)`."""

    def __init__(
        self,
        tokenizer,  # type: ignore[no-untyped-def]
        model: torch.nn.Module,
        label_indices: dict[str, int],
        *,
        related_threshold: float = 0.4,
        related_slope: float = 12.0,
        evidence_k: int = 3,
        max_length: int = 256,
        batch_size: int = 8,
        aggregator: VerdictAggregator | None = None,
    ) -> None:
        self.tokenizer = tokenizer
        self.model = model
        self.model.eval()
        self.label_indices = label_indices
        self.related_threshold = related_threshold
        self.related_slope = related_slope
        self.evidence_k = evidence_k
        self.max_length = max_length
        self.batch_size = batch_size
        self.aggregator = aggregator

    @classmethod
    def load(
        cls,
        name_or_path: str | Path,
        *,
        local_files_only: bool = False,
        aggregator: VerdictAggregator | None = None,
        **options: float,
    ) -> NliStanceDetector:
        """Load tokenizer and model (hub id or folder); ModelLoadError naming the cause."""
        source = str(name_or_path)
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=local_files_only)
            model = AutoModelForSequenceClassification.from_pretrained(
                source, local_files_only=local_files_only
            )
        except (OSError, ValueError) as exc:
            raise ModelLoadError(f"cannot load NLI model {source!r}: {exc}") from exc
        indices = nli_label_indices(dict(model.config.id2label))
        logger.info("loaded NLI stance model %s", source)
        return cls(tokenizer, model, indices, aggregator=aggregator, **options)  # type: ignore[arg-type]

    def _nli(self, premises: Sequence[str], hypotheses: Sequence[str]) -> np.ndarray:
        """Rows of (supports, refutes, neutral) = (entailment, contradiction, neutral)
        probabilities, in input order; the pairs run in batches of similar length."""
        order = [self.label_indices[k] for k in ("entailment", "contradiction", "neutral")]
        out = np.zeros((len(premises), 3))
        by_length = sorted(
            range(len(premises)), key=lambda i: len(premises[i]) + len(hypotheses[i])
        )
        with torch.inference_mode():
            for b in range(0, len(by_length), self.batch_size):
                rows = by_length[b : b + self.batch_size]
                batch = self.tokenizer(
                    [premises[i] for i in rows],
                    [hypotheses[i] for i in rows],
                    padding=True,
                    truncation="only_first",
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                logits = self.model(**batch).logits.float()
                out[rows] = torch.softmax(logits[:, order], dim=-1).numpy()
        return out

    def detect(
        self,
        claims: Sequence[str],
        document: Document,
        sentence_vectors: np.ndarray,
        claim_vectors: np.ndarray,
    ) -> list[Stance]:
        if not claims:
            return []
        evidence_sets = []
        related = []
        for vector in claim_vectors:
            sims = sentence_vectors @ vector if len(sentence_vectors) else np.zeros(0)
            best = float(sims.max()) if len(sims) else 0.0
            related.append(
                1.0 / (1.0 + math.exp(-self.related_slope * (best - self.related_threshold)))
            )
            evidence_sets.append(top_evidence(document, sims, self.evidence_k) if len(sims) else ())
        # Only related claims are worth the NLI model's time; all their sentences go together.
        todo = [i for i, p in enumerate(related) if p >= 0.5 and evidence_sets[i]]
        pairs = [(i, e.text) for i in todo for e in evidence_sets[i]]
        verdicts = self._nli([t for _, t in pairs], [claims[i] for i, _ in pairs])
        stage2 = np.zeros((len(claims), 3))
        stage2[:, 2] = 1.0
        per_claim: dict[int, np.ndarray] = {}
        at = 0
        for i in todo:
            n = len(evidence_sets[i])
            per_claim[i] = verdicts[at : at + n]
            at += n
            sims = np.array([e.score for e in evidence_sets[i]])
            if self.aggregator is not None:
                row = verdict_features(
                    claims[i], [e.text for e in evidence_sets[i]], sims, per_claim[i]
                )
                stage2[i] = self.aggregator.probabilities(row[None, :])[0]
            else:
                weights = np.clip(sims, 1e-3, None) / np.clip(sims, 1e-3, None).sum()
                stage2[i] = weights @ per_claim[i]  # (supports, refutes, neutral) order
        results = []
        for i, claim in enumerate(claims):
            p = related[i]
            agree, disagree, discuss = stage2[i]
            scores = {
                "agree": p * agree,
                "disagree": p * disagree,
                "discuss": p * discuss,
                "unrelated": 1.0 - p,
            }
            if p >= 0.5:
                label = max(("agree", "disagree", "discuss"), key=lambda lab: scores[lab])
            else:
                label = "unrelated"
            evidence = evidence_sets[i]
            if i in per_claim and label != "unrelated":
                evidence = with_verdicts(evidence, per_claim[i], label)
            results.append(
                Stance(
                    claim=claim,
                    label=label,
                    scores={lab: float(scores[lab]) for lab in STANCE_LABELS},
                    evidence=evidence,
                )
            )
        return results
