"""The hand-written stance check-list: its shape, and the report `make eval-checklist` prints."""

from __future__ import annotations

from collections import Counter

from evaluation.checklist import CheckClaim, group_table, load_checklist, report

GROUPS = {
    "paraphrase": "agree",
    "negation": "disagree",
    "antonym_event": "disagree",
    "changed_number": "disagree",
    "swapped_entity": "disagree",
    "hedged": "discuss",
    "unrelated": "unrelated",
}


def test_the_checklist_has_every_group_with_its_label_over_six_articles_or_more():
    claims = load_checklist()
    assert len(claims) >= 40
    assert len({c.article for c in claims}) >= 6
    per_group = Counter(c.group for c in claims)
    assert set(per_group) == set(GROUPS) and min(per_group.values()) >= 5
    assert all(c.label == GROUPS[c.group] for c in claims)
    assert any(c.article.startswith("sample:") for c in claims)


def test_the_report_counts_each_group_and_names_the_worst():
    claims = [
        CheckClaim("a", "negation", "x", "disagree"),
        CheckClaim("a", "negation", "y", "disagree"),
        CheckClaim("a", "unrelated", "z", "unrelated"),
    ]
    predicted = ["disagree", "agree", "unrelated"]
    assert group_table(claims, predicted) == [("negation", 1, 2), ("unrelated", 1, 1)]
    last = report(claims, predicted).splitlines()[-1]
    assert last == "checklist: 66.7 % right (2 of 3), worst group: negation 50.0 %"
