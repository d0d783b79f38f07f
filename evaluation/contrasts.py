"""Claims made from news text with a known verdict (after FactCC, Kryscinski et al. 2020).

Two kinds, both from FNC-1 train bodies outside the stance model's hold-out and ARC's fitting
claims, never from the evaluation articles: a refuting claim made from each supported FNC-1 /
ARC headline (`contrast_pairs`), and matched supported / refuted claims made from the bodies'
own sentences (`sentence_contrasts`).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Sequence

from evaluation.claims_data import VerifyPair, arc_articles, split_body

# An event and its opposite or failure, both ways; headline forms (present, past, -ing).
EVENT_OPPOSITES = [
    ("arrives", "cancels trip"),
    ("arrived", "called off the visit"),
    ("wins", "loses"),
    ("won", "lost"),
    ("beats", "loses to"),
    ("beat", "lost to"),
    ("approves", "rejects"),
    ("approved", "rejected"),
    ("confirms", "denies"),
    ("confirmed", "denied"),
    ("rises", "falls"),
    ("rose", "fell"),
    ("increases", "cuts"),
    ("increased", "cut"),
    ("accepts", "refuses"),
    ("accepted", "refused"),
    ("opens", "closes"),
    ("opened", "closed"),
    ("dies", "survives"),
    ("died", "survived"),
    ("killed", "spared"),
    ("arrested", "released"),
    ("guilty", "not guilty"),
    ("convicted", "acquitted"),
    ("alive", "dead"),
    ("joins", "quits"),
    ("joined", "left"),
    ("launches", "scraps"),
    ("launched", "scrapped"),
    ("signs", "rejects"),
    ("signed", "refused to sign"),
    ("agrees", "refuses"),
    ("agreed", "refused"),
    ("supports", "opposes"),
    ("backs", "opposes"),
    ("bans", "allows"),
    ("banned", "allowed"),
    ("resigns", "stays on"),
    ("resigned", "stayed on"),
    ("meets", "snubs"),
    ("met", "snubbed"),
    ("captured", "escaped"),
    ("more", "fewer"),
    ("higher", "lower"),
    ("increase", "decrease"),
    ("success", "failure"),
]
COUNTRIES = [
    "Russia",
    "China",
    "Iran",
    "Iraq",
    "Syria",
    "Israel",
    "France",
    "Germany",
    "Britain",
    "Canada",
    "Mexico",
    "Brazil",
    "India",
    "Pakistan",
    "Japan",
    "Australia",
    "Egypt",
    "Turkey",
    "Spain",
    "Italy",
    "Ukraine",
    "Nigeria",
    "Afghanistan",
    "Saudi Arabia",
    "North Korea",
    "South Korea",
    "Cuba",
    "Greece",
    "Sweden",
    "Poland",
]
AUXILIARIES = re.compile(r"\b(is|are|was|were|has|have|had|will|can|did|does)\b(?! not)")


# Words that are an event in a headline but often something else in a sentence ("far left").
AMBIGUOUS_EVENTS = frozenset(
    {"left", "more", "fewer", "higher", "lower", "cut", "closed", "closes", "opens", "opened",
     "lost", "supports", "increase", "decrease", "success", "failure"}
)  # fmt: skip
NOT_NAMES = frozenset(
    {"The", "A", "An", "In", "On", "At", "But", "And", "If", "As", "It", "He", "She", "They",
     "This", "That", "His", "Her", "Mr", "Mrs", "Ms", "Dr", "President", "Spokesman", "Prime",
     "Minister", "Secretary", "General", "State", "Islamic", "United", "New", "North", "South"}
)  # fmt: skip


def _opposite_event(claim: str, skip: frozenset[str] = frozenset()) -> str | None:
    for a, b in EVENT_OPPOSITES:
        for x, y in ((a, b), (b, a)):
            if x in skip:
                continue
            pattern = re.compile(rf"\b{re.escape(x)}\b", re.I)
            if pattern.search(claim):
                return pattern.sub(y, claim, count=1)
    return None


def _changed_number(claim: str, rng: random.Random) -> str | None:
    numbers = list(re.finditer(r"\b\d[\d,]*(?:\.\d+)?\b", claim))
    if not numbers:
        return None
    m = rng.choice(numbers)
    value = float(m.group().replace(",", ""))
    if 1900 <= value <= 2100 and "." not in m.group():
        new = str(int(value) + rng.choice([-3, -2, -1, 1, 2, 3]))
    else:
        factor = rng.choice([0.2, 0.5, 3, 10])
        new = f"{max(1, round(value * factor)):,}" if value >= 1 else str(value * 10)
    return claim[: m.start()] + new + claim[m.end() :]


def _negated(claim: str) -> str | None:
    m = AUXILIARIES.search(claim)
    if not m:
        return None
    return claim[: m.end()] + " not" + claim[m.end() :]


def _swapped_country(claim: str, evidence: str, rng: random.Random) -> str | None:
    present = [c for c in COUNTRIES if re.search(rf"\b{c}\b", claim)]
    if not present:
        return None
    others = [c for c in COUNTRIES if c not in claim and c not in evidence]
    return re.sub(rf"\b{present[0]}\b", rng.choice(others), claim, count=1)


WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
_NAME = re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+\b")
_ATTRIBUTION = re.compile(
    r",? (?:he|she|they|officials|police|[A-Z][a-z]+(?: [A-Z][a-z]+)?)"
    r" (?:said|says|told [^,.]+|reported)\.?$"
)


def _swapped_word(claim: str, words: Sequence[str], rng: random.Random) -> str | None:
    """A weekday or month of the claim replaced by another one."""
    present = [w for w in words if re.search(rf"\b{w}\b", claim)]
    if not present:
        return None
    return re.sub(
        rf"\b{present[0]}\b", rng.choice([w for w in words if w != present[0]]), claim, count=1
    )


def _swapped_name(claim: str, others: Sequence[str], rng: random.Random) -> str | None:
    """A two-word name of the claim replaced by another name of the same article."""
    names = [n for n in _NAME.findall(claim) if not set(n.split()) & NOT_NAMES]
    candidates = [o for o in others if o not in claim and not set(o.split()) & NOT_NAMES]
    if not names or not candidates:
        return None
    return claim.replace(names[-1], rng.choice(candidates), 1)


def headline_form(sentence: str) -> str:
    """A sentence as a claim is typed: no closing attribution ("..., officials said"), no
    leading connective, no final stop."""
    text = _ATTRIBUTION.sub("", sentence.strip())
    text = re.sub(r"^(?:But|And|However|Meanwhile|Still),?\s+", "", text)
    return text.rstrip(" .")


def sentence_contrasts(per_body: int = 2, seed: int = 13) -> list[VerifyPair]:
    """Claims made from news sentences themselves (FactCC), in matched pairs: the sentence in
    headline form, *supports*, and the same claim with one fact changed (an event replaced by
    its opposite, a number, weekday, month, country or person changed), *refutes*; the
    evidence is the sentence with its neighbours, so the changed fact is always in view. From
    the FNC-1 train bodies outside the stance model's hold-out and the bodies of ARC's fitting
    claims; never from the evaluation articles."""
    from evaluation.fnc_data import load_bodies, load_pairs
    from evaluation.train_stance import HOLDOUT_FRACTION, SEED, cluster_holdout

    rng = random.Random(seed)
    fnc_bodies = load_bodies("train")
    held = cluster_holdout(load_pairs("train"), sorted(fnc_bodies), HOLDOUT_FRACTION, SEED)
    texts = [b for i, b in sorted(fnc_bodies.items()) if i not in held]
    held_arc = {i for part in ("hold", "aggregate") for i in arc_articles(part)[1]}
    texts += [b for i, b in sorted(arc_articles("fit")[1].items()) if i not in held_arc]
    out = []
    for body in texts:
        sentences = split_body(body)
        names = sorted(set(_NAME.findall(body)))
        order = list(range(len(sentences)))
        rng.shuffle(order)
        made_here = 0
        for i in order:
            if made_here == per_body:
                break
            sentence = sentences[i]
            if not 8 <= len(sentence.split()) <= 32 or sentence.lstrip()[:1] in "\"'“‘":
                continue
            claim = headline_form(sentence)
            window = " ".join(sentences[max(0, i - 1) : i + 2])
            edits = [
                _opposite_event(claim, AMBIGUOUS_EVENTS),
                _changed_number(claim, rng),
                _swapped_word(claim, WEEKDAYS, rng),
                _swapped_word(claim, MONTHS, rng),
                _swapped_country(claim, window, rng),
                _swapped_name(claim, [n for n in names if n not in window], rng),
            ]
            made = [e for e in edits if e and e != claim]
            if not made:
                continue
            out.append(VerifyPair(window, claim, "supports", "sentence-contrast"))
            out.append(VerifyPair(window, rng.choice(made), "refutes", "sentence-contrast"))
            made_here += 1
    return out


def edited_claims(claim: str, evidence: str, rng: random.Random) -> list[str]:
    """The claim with one fact changed, by each edit that applies: its event replaced by the
    opposite, a number changed, its country swapped for one `evidence` does not name, negated."""
    edits = [
        _opposite_event(claim),
        _changed_number(claim, rng),
        _swapped_country(claim, evidence, rng),
        _negated(claim),
    ]
    return [e for e in edits if e and e != claim]


def contrast_pairs(supported: Iterable[VerifyPair], seed: int = 11) -> list[VerifyPair]:
    """One refuting claim made from each supported claim that an edit applies to."""
    rng = random.Random(seed)
    out = []
    for pair in supported:
        made = edited_claims(pair.claim, pair.evidence, rng)
        if made:
            # One edit, drawn: the first applicable would be an event opposite nearly always.
            claim = rng.choice(made)
            out.append(VerifyPair(pair.evidence, claim, "refutes", f"contrast-{pair.source}"))
    return out
