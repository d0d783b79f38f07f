"""The stance model card: `stance_card.md` filled from the model folder's manifest (the one
source of figures)."""

from __future__ import annotations

import json
from pathlib import Path

from services.stance.trained import MANIFEST

TEMPLATE = Path(__file__).with_name("stance_card.md")
F1S = ("macro_f1", "f1_agree", "f1_disagree", "f1_discuss", "f1_unrelated")


def artifact_files(folder: Path) -> list[str]:
    return sorted(f.name for f in folder.iterdir() if f.is_file() and f.name != "MODEL_CARD.md")


def folder_size(folder: Path) -> int:
    return sum((folder / name).stat().st_size for name in artifact_files(folder))


def _scores(figs: dict[str, float]) -> str:
    return f"{figs['relative_score']:.2f} | " + " | ".join(f"{figs[k]:.3f}" for k in F1S)


def _figures_row(name: str, figs: dict[str, float] | None) -> str:
    return f"| {name} | " + (_scores(figs) if figs else " | ".join("–" * 6)) + " |"


def _trials(t: dict) -> str:
    trials = t.get("cross_encoder_trials")
    if not trials:
        return ""
    lines = [
        "", "", "### Stage-2 cross-encoder trials (hold-out only, not shipped)", "",
        "MiniLM top layers + a linear head fine-tuned on (claim, 3 most similar sentences),",
        "≤ 128 tokens, on the fit part's related pairs, blended into stage 2 with a weight",
        "tuned on the hold-out (minutes: wall-clock on 1 thread, including caching the",
        "frozen layers' outputs). The blend's code is gone: the claim verifier replaces it:", "",
        "| layers | epochs | class-weight power | minutes | delta MB | weight "
        "| relative score | macro-F1 | agree | disagree | discuss | unrelated |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for x in trials:
        lines.append(
            f"| {x['layers']} | {x['epochs']} | {x['class_weight_power']} | {x['minutes']} "
            f"| {x['delta_mb']} | {x['blend_weight']} | {_scores(x['holdout'])} |"
        )
    return "\n".join([*lines, "", "Verdict: " + t["cross_encoder_verdict"]])


SOURCES = {
    "snli": "SNLI dev (CC BY-SA 4.0; the e-SNLI files: MIT)",
    "fever-symmetric": "FEVER-Symmetric v0.1 (Wikipedia terms, else CC BY-SA 3.0)",
    "climate-fever": "Climate-FEVER outside its hold-out (no license stated; Wikipedia text)",
    "healthver": "HealthVer dev (no license stated)",
    "covidfact": "COVID-Fact train (no license stated)",
    "arc": "ARC, the verifier's cut by claim (Apache-2.0)",
    "fnc-1": "FNC-1 train outside the hold-out (no license stated; research use)",
    "contrast-fnc-1": "refuting claims made here from supported FNC-1 headlines (as FNC-1)",
    "contrast-arc": "refuting claims made here from supported ARC headlines (Apache-2.0)",
    "sentence-contrast": "claims made here from FNC-1 and ARC sentences (as their source)",
}


def _verifier(m: dict, folder: Path) -> str:
    entry = m.get("verifier")
    config = folder / "verifier" / "cross_encoder.json"
    if not entry or not config.is_file():
        return ""
    c = json.loads(config.read_text(encoding="utf-8"))
    layers = sum(p.startswith("base.encoder.layer.") for p in c["trained_prefixes"])
    mb = sum(f.stat().st_size for f in (folder / "verifier").iterdir()) / 1e6
    rows = [f"| {SOURCES.get(k, k)} | {n:,} |" for k, n in c.get("sources", {}).items()]
    oof = entry["out_of_fold"]
    return "\n".join([
        "", "Claim verifier (`verifier/`): all-MiniLM-L6-v2 as a cross-encoder, its top "
        f"{layers} layers and a linear head on the mean-pooled output fine-tuned to say whether "
        "the evidence *supports* the claim, *refutes* it or leaves it *neutral* "
        f"({c['pairs']:,} pairs, {c['epochs']:g} epochs, {c.get('train_minutes_this_run', '?')} "
        f"min on 2 cores; an fp16 delta over the packaged weights, {mb:.1f} MB):", "",
        "| training set (license) | pairs |", "|---|---|", *rows, "",
        "Each related claim's evidence sentences get a verdict; a multinomial logistic "
        "regression over the verdicts, the similarities, hedging cues and stage 2's "
        f"probabilities gives agree / disagree / discuss, fitted on {entry['fitted_on']} "
        f"(out of fold: macro-F1 {oof['macro_f1']:.3f}, agree {oof['agree']:.3f}, disagree "
        f"{oof['disagree']:.3f}, discuss {oof['discuss']:.3f}). The decision's class weights "
        f"(agree, disagree, discuss) = {tuple(entry['class_weights'])}.", "",
    ])  # fmt: skip


def render_card(folder: Path) -> str:
    m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    t, test, latency = m["training"], m.get("test"), m.get("latency")
    hold, d = t["holdout"], m["decision"]
    rows = [
        _figures_row("hold-out, stage 1 + LightGBM stage 2, default rule", hold["default_rule"]),
        _figures_row("hold-out, stage 1 + LightGBM stage 2, tuned rule", hold["tuned_rule"]),
        _figures_row("**competition test** (shipped model)", test),
    ]
    test_report = ""
    if test:
        report = "\n".join(test["report_lines"])
        test_report = (
            f"\n\nCompetition test, `python -m evaluation.eval_stance`:\n\n```\n{report}\n```"
        )
    size = folder_size(folder)
    return TEMPLATE.read_text(encoding="utf-8").format(
        hold_bodies=hold["bodies"], hold_pairs=hold["pairs"], features=len(m["feature_names"]),
        power=t["stage2_class_weight_power"], threshold=d["related_threshold"],
        class_weights=tuple(d["class_weights"]), rows="\n".join(rows),
        related_accuracy=hold["related_accuracy"], trials=_trials(t), test_report=test_report,
        verifier=_verifier(m, folder),
        training_min=t["seconds"] / 60,
        artifact=f"{size / 1e6:.2f} MB ({', '.join(artifact_files(folder))}).",
        latency="" if not latency else (
            "\n- Latency, 10 claims on the reference article through `services.analysis.Analyzer`"
            f" (1 thread): stance {latency['stance_ms']:.0f} ms, embedding of sentences + claims"
            f" {latency['embed_ms']:.0f} ms (median of {latency['runs']} runs)."
        ),
        date=t["date"], seed=t["seed"],
    )  # fmt: skip


def write_card(folder: Path) -> None:
    (folder / "MODEL_CARD.md").write_text(render_card(folder), encoding="utf-8")
