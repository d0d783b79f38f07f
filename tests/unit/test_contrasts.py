"""Claims made from news text with a known verdict: each edit changes one fact, and a
sentence becomes a claim the way users type one."""

from __future__ import annotations

import random

from evaluation.contrasts import (
    AMBIGUOUS_EVENTS,
    MONTHS,
    WEEKDAYS,
    _changed_number,
    _negated,
    _opposite_event,
    _swapped_name,
    _swapped_word,
    headline_form,
)


def test_a_sentence_reads_as_a_claim_without_its_attribution_or_stop() -> None:
    assert headline_form("But the talks ended on Tuesday, officials said.") == (
        "the talks ended on Tuesday"
    )
    assert headline_form("Kerry arrived in Sochi, John Smith told reporters.") == (
        "Kerry arrived in Sochi"
    )
    assert headline_form("Kerry arrived in Sochi.") == "Kerry arrived in Sochi"


def test_each_edit_changes_one_fact() -> None:
    rng = random.Random(0)
    assert _opposite_event("Kerry arrived in Sochi") == "Kerry called off the visit in Sochi"
    assert _opposite_event("Jury convicted Tsarnaev") == "Jury acquitted Tsarnaev"
    # "left" is a direction as often as an event: skipped where asked.
    assert _opposite_event("the far left party", AMBIGUOUS_EVENTS) is None
    changed = _changed_number("Tsarnaev found guilty on all 30 counts", rng)
    assert changed is not None and " 30 " not in changed and changed.endswith(" counts")
    day = _swapped_word("Kerry arrived on Tuesday", WEEKDAYS, rng)
    assert day is not None and "Tuesday" not in day and day.split()[-1] in WEEKDAYS
    month = _swapped_word("The deal is due in June", MONTHS, rng)
    assert month is not None and month.split()[-1] in MONTHS and "June" not in month
    assert _swapped_word("No date here", WEEKDAYS, rng) is None
    assert _negated("Kerry has met Putin") == "Kerry has not met Putin"


def test_a_name_is_swapped_for_another_person_of_the_article_not_a_title() -> None:
    rng = random.Random(0)
    swapped = _swapped_name("Spokesman Jeff Hershberger denied it", ["Michael Woody"], rng)
    assert swapped is None  # "Spokesman Jeff" is not a name; "Jeff Hershberger" overlaps it
    swapped = _swapped_name("Lauren Davis beat Eugenie Bouchard", ["Serena Williams"], rng)
    assert swapped == "Lauren Davis beat Serena Williams"
    assert _swapped_name("The Islamic State claimed it", ["Suhaib Majeed"], rng) is None


def test_arc_is_cut_by_claim_into_a_hold_out_an_aggregate_cut_and_the_verifiers_part() -> None:
    from evaluation.claims_data import arc_part, held_out

    claims = [f"Claim number {i} about an event" for i in range(2000)]
    parts = [arc_part(c) for c in claims]
    share = {p: parts.count(p) / len(parts) for p in ("hold", "aggregate", "fit")}
    assert 0.12 < share["hold"] < 0.18 and 0.12 < share["aggregate"] < 0.18
    # The hold-out is the one the other sets use, and the cut ignores case and spacing.
    assert all((p == "hold") == held_out(c) for c, p in zip(claims, parts, strict=True))
    assert arc_part("Kerry  meets PUTIN") == arc_part("kerry meets putin")
