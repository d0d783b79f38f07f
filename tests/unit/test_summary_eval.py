"""The ROUGE protocol of ../shared/data/README.md and the eval script's output contract."""

from __future__ import annotations

import re

import pytest
import torch

from evaluation import eval_summary
from evaluation.rouge import RougeScorer, cnndm_path, halves, lsum_lines, mean_figures


def test_lsum_lines_split_one_sentence_a_line():
    text = 'He left. "Why?" she asked. 3 went home! the end. U.S. troops'
    assert lsum_lines(text).split("\n") == [
        "He left.",
        '"Why?" she asked.',
        "3 went home! the end.",
        "U.S. troops",
    ]


def test_identical_texts_score_one_and_the_mean_is_times_100():
    scorer = RougeScorer()
    per_doc = scorer.score_all(
        ["The cat sat on the mat."] * 2, ["The cat sat on the mat.", "Dogs."]
    )
    figures = mean_figures(per_doc)
    assert figures.rouge1 == 50.0 and figures.count == 2
    assert figures.line() == "50.00 / 50.00 / 50.00"


def test_halves_are_the_tuning_half_the_held_out_half_and_all():
    assert [(label, s.start, s.stop) for label, s in halves(250)] == [
        ("first 125", 0, 125),
        ("last 125", 125, 250),
        ("all 250", 0, 250),
    ]


def test_eval_script_ends_with_the_default_figures(capsys):
    if not cnndm_path().is_file():
        pytest.skip(f"CNN/DM data not found at {cnndm_path()} (set NEWSNLP_DATA_DIR)")
    threads = torch.get_num_threads()
    try:
        assert eval_summary.main(["--limit", "4"]) == 0
    finally:
        torch.set_num_threads(threads)  # the script pins one thread for the process
    lines = capsys.readouterr().out.strip().splitlines()
    assert any(line.startswith("Lead-3") for line in lines)
    assert re.fullmatch(r"CNN/DM-4 ROUGE-1/2/Lsum: \d+\.\d\d / \d+\.\d\d / \d+\.\d\d", lines[-1])
