"""(evidence, claim, verdict) pairs for the claim verifier, from the shared data, with hold-outs.

Verdicts are supports / refutes / neutral. Every set keeps its own split: SNLI dev trains and
SNLI test is only scored; FEVER-Symmetric v0.1 trains, v0.2 dev is the hold-out, v0.2 test only
scored; HealthVer dev trains, test only scored; COVID-Fact train / dev; Climate-FEVER and ARC
are cut by claim here (a fixed hash of the claim, so the split never moves); FNC-1 train is cut
by clusters of bodies (`evaluation.train_stance.cluster_holdout`, the stance model's own split).
A body (FNC-1, ARC) is cut to the sentences that best match the claim, as the service does.
Claims made from news text are in `evaluation.contrasts`.
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from evaluation.fnc_data import Pair, data_dir

VERDICTS = ("supports", "refutes", "neutral")
FNC_TO_VERDICT = {"agree": "supports", "disagree": "refutes", "discuss": "neutral"}
HOLDOUT_PERCENT = 15


@dataclass(frozen=True)
class VerifyPair:
    evidence: str
    claim: str
    verdict: str
    source: str


def claims_dir() -> Path:
    return data_dir() / "claims"


# A second cut of ARC's claims, beside the hold-out: the verifier never fits it, the verdict
# aggregator is fitted on it (with the FNC-1 train hold-out).
AGGREGATE_PERCENT = 15


def _bucket(claim: str) -> int:
    digest = hashlib.sha256(" ".join(claim.lower().split()).encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def held_out(claim: str, percent: int = HOLDOUT_PERCENT) -> bool:
    """Whether a claim is in its set's hold-out: a fixed hash, the same on every machine."""
    return _bucket(claim) < percent


def arc_part(claim: str) -> str:
    """Which cut of ARC a claim is in: "hold" (never fitted or tuned on), "aggregate" (fits
    the verdict aggregator) or "fit" (fits the verifier)."""
    bucket = _bucket(claim)
    if bucket < HOLDOUT_PERCENT:
        return "hold"
    return "aggregate" if bucket < HOLDOUT_PERCENT + AGGREGATE_PERCENT else "fit"


def _tokens(text: str) -> set[str]:
    return {t for t in re.findall(r"[a-z0-9]+", text.lower()) if len(t) > 2}


def best_sentences(sentences: list[str], claim: str, k: int = 2) -> str:
    """The k sentences sharing most words with the claim, in article order, as one passage."""
    words = _tokens(claim)
    scored = sorted(
        range(len(sentences)),
        key=lambda i: (-len(words & _tokens(sentences[i])) / (1 + len(words)), i),
    )
    return " ".join(sentences[i] for i in sorted(scored[:k]))


def split_body(body: str) -> list[str]:
    from services.text.sentences import split_sentences

    return [s.text for s in split_sentences(" ".join(body.split()))] or [body]


# --- the sets ---------------------------------------------------------------------------------


def snli(split: str) -> list[VerifyPair]:
    folder = claims_dir() / "snli"
    names = {"entailment": "supports", "contradiction": "refutes", "neutral": "neutral"}
    s1 = (folder / f"s1.{split}").read_text().splitlines()
    s2 = (folder / f"s2.{split}").read_text().splitlines()
    labels = (folder / f"labels.{split}").read_text().splitlines()
    return [
        VerifyPair(a.strip(), b.strip(), names[y.strip()], "snli")
        for a, b, y in zip(s1, s2, labels, strict=True)
        if y.strip() in names
    ]


def fever_symmetric(name: str) -> list[VerifyPair]:
    pairs = []
    for line in (claims_dir() / "fever-symmetric" / f"{name}.jsonl").read_text().splitlines():
        row = json.loads(line)
        evidence = row.get("evidence") or row.get("evidence_sentence") or ""
        verdict = {"SUPPORTS": "supports", "REFUTES": "refutes"}.get(row.get("label", ""))
        if evidence and verdict:
            pairs.append(VerifyPair(evidence, row["claim"], verdict, "fever-symmetric"))
    return pairs


def climate_fever(hold: bool, max_neutral: int | None = None) -> list[VerifyPair]:
    names = {"SUPPORTS": "supports", "REFUTES": "refutes", "NOT_ENOUGH_INFO": "neutral"}
    pairs = []
    for line in (claims_dir() / "climate-fever" / "climate-fever.jsonl").read_text().splitlines():
        row = json.loads(line)
        if held_out(row["claim"]) != hold:
            continue
        for ev in row["evidences"]:
            pairs.append(
                VerifyPair(
                    ev["evidence"], row["claim"], names[ev["evidence_label"]], "climate-fever"
                )
            )
    return _cap_neutral(pairs, max_neutral)


def _cap_neutral(pairs: list[VerifyPair], max_neutral: int | None) -> list[VerifyPair]:
    """At most `max_neutral` neutral pairs (a fixed sample), all the others."""
    if max_neutral is None:
        return pairs
    neutral = [i for i, p in enumerate(pairs) if p.verdict == "neutral"]
    keep = set(random.Random(7).sample(neutral, min(max_neutral, len(neutral))))
    return [p for i, p in enumerate(pairs) if p.verdict != "neutral" or i in keep]


def healthver(split: str) -> list[VerifyPair]:
    names = {"supports": "supports", "refutes": "refutes", "neutral": "neutral"}
    with (claims_dir() / "healthver" / f"healthver_{split}.csv").open(newline="") as f:
        return [
            VerifyPair(r["evidence"], r["claim"], names[r["label"].strip().lower()], "healthver")
            for r in csv.DictReader(f)
            if r["label"].strip().lower() in names
        ]


def covidfact(split: str) -> list[VerifyPair]:
    # COVID-Fact's not_entailment claims are counter-claims made from true ones: refuted.
    names = {"entailment": "supports", "not_entailment": "refutes"}
    with (claims_dir() / "covidfact" / f"covidfact_{split}.tsv").open(newline="") as f:
        rows = csv.reader(f, delimiter="\t")
        next(rows)
        return [
            VerifyPair(r[1], r[2], names[r[3]], "covidfact")
            for r in rows
            if len(r) >= 4 and r[3] in names
        ]


def _fnc_format(stances: Path, bodies: Path, source: str) -> Iterator[tuple[str, str, str]]:
    with bodies.open(newline="", encoding="utf-8") as f:
        text = {int(r["Body ID"]): r["articleBody"] for r in csv.DictReader(f)}
    with stances.open(newline="", encoding="utf-8") as f:
        for r in csv.DictReader(f):
            if r["Stance"] in FNC_TO_VERDICT:
                yield r["Headline"], text[int(r["Body ID"])], r["Stance"]


def arc(part: str, k: int = 2) -> list[VerifyPair]:
    """ARC's related pairs of one cut by claim (`arc_part`): a cut has every body of its
    claims."""
    folder = claims_dir() / "arc"
    pairs = []
    for claim, body, stance in _fnc_format(
        folder / "arc_stances.csv", folder / "arc_bodies.csv", "arc"
    ):
        if arc_part(claim) == part:
            evidence = best_sentences(split_body(body), claim, k)
            pairs.append(VerifyPair(evidence, claim, FNC_TO_VERDICT[stance], "arc"))
    return pairs


def arc_articles(part: str) -> tuple[list[Pair], dict[int, str]]:
    """ARC as the stance model sees FNC-1: whole bodies and all four labels, the claims of
    one cut (`arc_part`; every body of its claims, unrelated ones too)."""
    folder = claims_dir() / "arc"
    with (folder / "arc_bodies.csv").open(newline="", encoding="utf-8") as f:
        bodies = {int(r["Body ID"]): r["articleBody"] for r in csv.DictReader(f)}
    with (folder / "arc_stances.csv").open(newline="", encoding="utf-8") as f:
        pairs = [
            Pair(r["Headline"], int(r["Body ID"]), r["Stance"])
            for r in csv.DictReader(f)
            if arc_part(r["Headline"]) == part
        ]
    return pairs, {p.body_id: bodies[p.body_id] for p in pairs}


def fnc_train(hold: bool, k: int = 2, max_neutral: int | None = None) -> list[VerifyPair]:
    """FNC-1 train's related pairs on the stance model's own body-cluster split."""
    from evaluation.fnc_data import load_bodies, load_pairs
    from evaluation.train_stance import HOLDOUT_FRACTION, SEED, cluster_holdout, split_pairs

    bodies = load_bodies("train")
    all_pairs = load_pairs("train")
    held = cluster_holdout(all_pairs, sorted(bodies), HOLDOUT_FRACTION, SEED)
    fit, hold_pairs = split_pairs(all_pairs, held)
    chosen = [p for p in (hold_pairs if hold else fit) if p.stance in FNC_TO_VERDICT]
    split_cache: dict[int, list[str]] = {}
    out = []
    for p in chosen:
        if p.body_id not in split_cache:
            split_cache[p.body_id] = split_body(bodies[p.body_id])
        evidence = best_sentences(split_cache[p.body_id], p.headline, k)
        out.append(VerifyPair(evidence, p.headline, FNC_TO_VERDICT[p.stance], "fnc-1"))
    return _cap_neutral(out, max_neutral)


def holdout_sets() -> dict[str, list[VerifyPair]]:
    """The hold-outs the verifier is tuned on (never fitted)."""
    return {
        "fever-symmetric v0.2 dev": fever_symmetric("v0.2_dev"),
        "climate-fever hold-out": climate_fever(hold=True),
        "arc hold-out": arc("hold"),
        "fnc-1 hold-out": fnc_train(hold=True),
        "covidfact dev": covidfact("dev"),
    }


def test_sets() -> dict[str, list[VerifyPair]]:
    """Scored once, for the report."""
    return {
        "snli test": snli("test"),
        "fever-symmetric v0.2 test": fever_symmetric("v0.2_test"),
        "healthver test": healthver("test"),
    }
