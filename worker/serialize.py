"""Turns a services Analysis into the JSON result of a job (the HTTP contract v1)."""

from __future__ import annotations

from typing import Any

from services.documents import Analysis
from services.provenance import ModelInfo
from worker.provenance import models_json


def analysis_to_result(analysis: Analysis, models: tuple[ModelInfo, ...]) -> dict[str, Any]:
    """The result of a job; `models` are the worker's, of which the stages that ran go in."""
    doc = analysis.document
    ran = {"encoder"}
    ran |= {"summarizer"} if analysis.summary is not None else set()
    ran |= {"stance", "stance_verifier"} if analysis.stance is not None else set()
    result: dict[str, Any] = {
        "article": {
            "title": doc.title,
            "byline": doc.byline,
            "dateline": doc.dateline,
            "text": doc.body,
            "sentence_count": len(doc.sentences),
            "word_count": doc.word_count,
        },
        "timings_ms": analysis.timings_ms,
        "warnings": [{"code": w.code, "message": w.message} for w in analysis.warnings],
        "models": models_json(tuple(m for m in models if m.stage in ran)),
    }
    if analysis.summary is not None:
        result["summary"] = {
            "text": analysis.summary.text,
            "method": analysis.summary.method,
            "sentences": [
                {"index": s.index, "text": s.text, "start": s.start, "end": s.end}
                for s in analysis.summary.sentences
            ],
        }
    if analysis.stance is not None:
        result["stance"] = [
            {
                "claim": st.claim,
                "label": st.label,
                "scores": {label: round(float(p), 4) for label, p in st.scores.items()},
                "evidence": [
                    {
                        "index": e.index,
                        "text": e.text,
                        "start": e.start,
                        "end": e.end,
                        "score": e.score,
                        "verdict": e.verdict,
                        "verdict_score": e.verdict_score,
                    }
                    for e in st.evidence
                ],
            }
            for st in analysis.stance
        ]
    return result
