"""The official FNC-1 scoring on hand-made cases whose scores are worked out by hand."""

from __future__ import annotations

import pytest

from evaluation.fnc_metrics import fnc_score, max_fnc_score, relative_score, stance_report

GOLD = ["agree", "disagree", "discuss", "unrelated", "unrelated", "agree"]
# agree→agree 1.0; disagree→agree 0.25 (related right); discuss→unrelated 0;
# unrelated→unrelated 0.25; unrelated→discuss 0; agree→discuss 0.25.  Total 1.75.
PREDICTED = ["agree", "agree", "unrelated", "unrelated", "discuss", "discuss"]


def test_score_of_a_hand_made_case() -> None:
    assert fnc_score(GOLD, PREDICTED) == pytest.approx(1.75)
    # Max: four related pairs at 1.0 and two unrelated at 0.25.
    assert max_fnc_score(GOLD) == pytest.approx(4.5)
    assert relative_score(GOLD, PREDICTED) == pytest.approx(100 * 1.75 / 4.5)


def test_all_unrelated_earns_only_the_unrelated_quarter_points() -> None:
    assert fnc_score(GOLD, ["unrelated"] * len(GOLD)) == pytest.approx(0.5)


def test_report_per_class_figures_and_confusion() -> None:
    report = stance_report(GOLD, PREDICTED)
    agree = next(c for c in report.classes if c.label == "agree")
    # agree: 1 true positive, 2 predicted, 2 gold.
    assert agree.precision == pytest.approx(1 / 2)
    assert agree.recall == pytest.approx(1 / 2)
    assert agree.f1 == pytest.approx(0.5)
    assert report.f1("disagree") == 0.0
    assert report.confusion[0] == (1, 0, 1, 0)  # gold agree → agree, discuss
    # unrelated: 1 of 2 predicted right, 1 of 2 gold found; discuss and disagree: none right.
    assert report.macro_f1 == pytest.approx((0.5 + 0 + 0 + 0.5) / 4)
    assert report.summary_line() == "FNC-1 relative score: 38.89  macro-F1: 0.250"


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError):
        fnc_score(GOLD, PREDICTED[:-1])
