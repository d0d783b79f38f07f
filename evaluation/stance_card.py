"""The stance model card, rendered from the model folder's manifest (the one source of figures)."""

from __future__ import annotations

import json
from pathlib import Path

from services.stance.trained import MANIFEST


def artifact_files(folder: Path) -> list[str]:
    return sorted(f.name for f in folder.iterdir() if f.is_file() and f.name != "MODEL_CARD.md")


def folder_size(folder: Path) -> int:
    return sum((folder / name).stat().st_size for name in artifact_files(folder))


def _figures_row(name: str, figs: dict[str, float] | None) -> str:
    if not figs:
        return f"| {name} | – | – | – | – | – | – |"
    return (
        f"| {name} | {figs['relative_score']:.2f} | "
        f"{figs['macro_f1']:.3f} | {figs['f1_agree']:.3f} "
        f"| {figs['f1_disagree']:.3f} | {figs['f1_discuss']:.3f} | {figs['f1_unrelated']:.3f} |"
    )


def render_card(folder: Path) -> str:
    m = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    t = m["training"]
    hold = t["holdout"]
    test = m.get("test")
    latency = m.get("latency")
    size = folder_size(folder)
    lines = [
        "# Stance model card — FNC-1 two-stage detector",
        "",
        "Stance of an article towards a claim — agree / disagree / discuss / unrelated — with",
        "evidence sentences, on CPU and offline, over the packaged all-MiniLM-L6-v2. Loaded by",
        '`services.stance.trained.TrainedStanceDetector.load("models/stance")`.',
        "",
        "## Data",
        "",
        "Fake News Challenge stage 1 (FakeNewsChallenge/fnc-1, commit 29d473a), read in place from",
        "`$NEWSNLP_DATA_DIR/fnc1` (default `../shared/data/fnc1`), never copied here; derived from",
        "Emergent (Ferreira & Vlachos 2016), no license "
        "stated: used for training and evaluation only.",
        "",
        "- Fitting and tuning: `train_bodies.csv` + "
        "`train_stances.csv` only (49,972 pairs, 1,683 bodies).",
        f"- Hold-out: {hold['bodies']} bodies ({hold['pairs']} "
        "pairs) = whole clusters of bodies linked",
        "  through shared related headlines (~20 % of bodies, seeded); no headline related to a",
        "  hold-out body is seen in fitting, so hold-out claims are new, as in the test set.",
        "  The hold-out chose the boosting rounds (early stopping) and the decision rule.",
        "- Shipped models: LightGBM refit on all training pairs with those settings.",
        "- Test: `competition_test_*` (25,413 pairs), scored once for this card.",
        "",
        "## Method",
        "",
        "Bodies are cleaned and split exactly as the "
        "service does (`services.text.cleaning.clean_article`),",
        "then every sentence and every claim is embedded with all-MiniLM-L6-v2 (the vectors the",
        "service's `Analyzer` computes once per job). Features per (claim, article)"
        f" ({len(m['feature_names'])}, `services/stance/features.py`):",
        "",
        "- MiniLM cosine of the claim to each sentence: best, top-2/3 mean, mean, spread, the best",
        "  sentence's position, first sentences, share of sentences above 0.3/0.5/0.7, the body",
        "  centroid, the gap between the best two;",
        "- lexical: TF-IDF cosine (IDF fitted on the "
        "training bodies, shipped as `idf.json`) to the",
        "  body, the best sentence, the top 3; content-word, "
        "IDF-weighted, bigram and number overlap;",
        "- cues: refuting, hedging, negation and confirming "
        "words in the claim, in the best and top-3",
        "  sentences, over the body (rate and "
        "similarity-weighted), in the first 3 sentences; parity",
        "  of refuting+negation counts.",
        "",
        "Stage 1 (`stage1.lgb.txt`): LightGBM binary related vs unrelated on all pairs.",
        "Stage 2 (`stage2.lgb.txt`): LightGBM agree / "
        "disagree / discuss on the related pairs, class",
        f"weights (N / 3 n_c)^{t['stage2_class_weight_power']}.",
    ]
    d = m["decision"]
    lines += [
        "",
        f"Decision: related when P(related) ≥ {d['related_threshold']}, then the stage-2 label",
        "maximising probability × class weight (agree, disagree, discuss) = "
        f"{tuple(d['class_weights'])}, tuned on the hold-out for relative score/100 + macro-F1.",
        "Probabilities: P(unrelated) = 1 − P(related), P(stage-2 label) = P(related) × P(label).",
        "Evidence: the 1–3 sentences most similar to the claim (cosine ≥ 0.25 after the first).",
        "",
        "## Figures",
        "",
        "FNC-1 official scoring (relative score = score / best possible, in %), per-class F1.",
        "",
        "| split | relative score | macro-F1 | agree | disagree | discuss | unrelated |",
        "|---|---|---|---|---|---|---|",
        _figures_row("hold-out, stage 1 + LightGBM stage 2, default rule", hold["default_rule"]),
        _figures_row("hold-out, stage 1 + LightGBM stage 2, tuned rule", hold["tuned_rule"]),
    ]
    lines.append(_figures_row("**competition test** (shipped model)", test))
    lines += [
        "",
        f"Hold-out related/unrelated accuracy: {hold['related_accuracy']:.4f}.",
        "Published anchors on the competition test: baseline 75.20; SOLAT in the SWEN 82.02,",
        "Athene 81.97, UCLMR 81.72 (macro-F1 ≈ 0.58–0.60); Bhatt et al. 83.08; Sepúlveda-Torres",
        "et al. 2021 90.73.",
    ]
    trials = t.get("cross_encoder_trials")
    if trials:
        lines += [
            "",
            "### Stage-2 cross-encoder trials (hold-out only, not shipped)",
            "",
            "MiniLM top layers + a linear head fine-tuned on (claim, 3 most similar sentences),",
            "≤ 128 tokens, on the fit part's related pairs, blended into stage 2 with a weight",
            "tuned on the hold-out (minutes: wall-clock on 1 thread, including caching the",
            "frozen layers' outputs). The blend's code is gone: the claim verifier replaces it:",
            "",
            "| layers | epochs | class-weight power | minutes | delta MB | weight "
            "| relative score | macro-F1 | agree | disagree | discuss | unrelated |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for trial in trials:
            h = trial["holdout"]
            lines.append(
                f"| {trial['layers']} | {trial['epochs']} | {trial['class_weight_power']} "
                f"| {trial['minutes']} | {trial['delta_mb']} | {trial['blend_weight']} "
                f"| {h['relative_score']:.2f} | {h['macro_f1']:.3f} | {h['f1_agree']:.3f} "
                f"| {h['f1_disagree']:.3f} | {h['f1_discuss']:.3f} | {h['f1_unrelated']:.3f} |"
            )
        lines += ["", "Verdict: " + t["cross_encoder_verdict"]]
    if test:
        lines += ["", "Competition test, `python -m evaluation.eval_stance`:", "", "```"]
        lines += test["report_lines"] + ["```"]
    lines += [
        "",
        "## Cost",
        "",
        f"- Training: {t['seconds'] / 60:.1f} min wall-clock for the LightGBM stages, 1 thread on"
        " a shared 2-core machine, including the MiniLM embedding of every training sentence and"
        " headline (cached under var/cache/stance: a rerun takes a few minutes)" + ".",
        f"- Artifact: {size / 1e6:.2f} MB ({', '.join(artifact_files(folder))}).",
    ]
    if latency:
        lines.append(
            f"- Latency, 10 claims on the reference article through `services.analysis.Analyzer`"
            f" (1 thread): stance {latency['stance_ms']:.0f} ms, embedding of sentences + claims"
            f" {latency['embed_ms']:.0f} ms (median of {latency['runs']} runs)."
        )
    lines += [
        "",
        "## Reproduce",
        "",
        "```",
        ".venv/bin/python -m evaluation.train_stance  # LightGBM stages, writes this folder",
    ]
    lines += [
        ".venv/bin/python -m evaluation.eval_stance --update-card # competition test, latency",
        "```",
        "",
        f"Trained {t['date']}, seed {t['seed']}, LightGBM params in `stance_model.json`.",
        "",
        "## Limits",
        "",
        "- FNC-1 claims are news headlines about 2014–15 rumours; free-form claims, other domains",
        "  and non-English text are out of distribution. "
        'Relatedness is reliable; "disagree" is the',
        '  weakest class (few training examples) and "discuss" vs "agree" often hinges on hedging.',
        "- The model saw bodies cleaned by the current "
        "`services.text.cleaning`; a large change to cleaning",
        "  or splitting warrants retraining (the training caches key on the sentence texts).",
        "",
        "## The NLI backend instead",
        "",
        "`services.stance.nli.NliStanceDetector.load(name_or_path)` runs any Hugging Face NLI",
        "cross-encoder (labels entailment / neutral / contradiction in `config.id2label`):",
        "relatedness from the MiniLM similarity, then "
        "entailment → agree, contradiction → disagree,",
        "neutral → discuss. With internet (or a downloaded folder), good choices are",
        "`cross-encoder/nli-deberta-v3-base` (or `-small`/`-xsmall` for CPU),",
        "`MoritzLaurer/DeBERTa-v3-base-mnli-fever-anli`, "
        "`MoritzLaurer/DeBERTa-v3-large-mnli-fever-anli-ling-wanli`",
        "and `microsoft/deberta-large-mnli`; they are "
        "not trained on FNC-1 and were not scored here",
        "(no downloads on this machine).",
        "",
    ]
    return "\n".join(lines)


def write_card(folder: Path) -> None:
    (folder / "MODEL_CARD.md").write_text(render_card(folder), encoding="utf-8")
