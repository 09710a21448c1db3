"""The two rule-based perturbation types: Typo Injection and Lowercase (RUIE-Bench, Section 3).

Both change letters only, inside words, so every annotation keeps its frame, slot and type; an
annotated mention's text changes with its words.  Given the same ``random.Random`` state they
give the same output.
"""

from __future__ import annotations

import math
import random

from ucuie.perturb.edits import Edit, apply_edits, perturbed_id
from ucuie.perturb.kinds import LOWERCASE, TYPO
from ucuie.perturb.words import WORD
from ucuie.records import Record

#: Share of the eligible words that get a typo (at least one word).
TYPO_RATE = 0.25
#: Typos go into words longer than this (the decided reading of the paper's rule).
TYPO_MIN_LENGTH = 7

_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")


def _keyboard_neighbours() -> dict[str, str]:
    """Letters next to each letter on a QWERTY keyboard (rows are staggered by half a key)."""
    neighbours: dict[str, str] = {}
    for row, keys in enumerate(_ROWS):
        for i, key in enumerate(keys):
            near = [keys[j] for j in (i - 1, i + 1) if 0 <= j < len(keys)]
            if row > 0:
                near += [_ROWS[row - 1][j] for j in (i, i + 1) if j < len(_ROWS[row - 1])]
            if row < len(_ROWS) - 1:
                near += [_ROWS[row + 1][j] for j in (i - 1, i) if 0 <= j < len(_ROWS[row + 1])]
            neighbours[key] = "".join(near)
    return neighbours


KEYBOARD_NEIGHBOURS = _keyboard_neighbours()


def _neighbour(letter: str, rng: random.Random) -> str:
    near = rng.choice(KEYBOARD_NEIGHBOURS[letter.lower()])
    return near.upper() if letter.isupper() else near


def misspell(word: str, rng: random.Random) -> str:
    """``word`` with one typo: two adjacent inner letters swapped, an inner letter deleted,
    doubled, or replaced by a keyboard neighbour.  The first and last letters never change, and
    the typo always changes the word (a swap of two equal letters is never drawn)."""
    inner = range(1, len(word) - 1)
    options = {
        "swap": [i for i in inner if i + 1 < len(word) - 1 and word[i] != word[i + 1]],
        "delete": list(inner),
        "duplicate": list(inner),
        "neighbour": [i for i in inner if word[i].lower() in KEYBOARD_NEIGHBOURS],
    }
    kind = rng.choice([kind for kind, positions in options.items() if positions])
    i = rng.choice(options[kind])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "delete":
        return word[:i] + word[i + 1 :]
    if kind == "duplicate":
        return word[:i] + word[i] + word[i:]
    return word[:i] + _neighbour(word[i], rng) + word[i + 1 :]


def typo(record: Record, rng: random.Random, rate: float = TYPO_RATE) -> Record | None:
    """Typo Injection: ``ceil(rate * n)`` (at least one) of the ``n`` eligible words get one typo
    each (:func:`misspell`); ``None`` when no word is eligible.

    Eligible: a word (:data:`~ucuie.perturb.words.WORD`) longer than six letters, anywhere in the
    text -- inside an annotated mention too, whose text then changes with it -- unless it
    straddles a span boundary (the typo would cut through the annotation).
    """
    spans = list(record.spans())
    eligible = [
        match
        for match in WORD.finditer(record.text)
        if len(match[0]) >= TYPO_MIN_LENGTH
        and all(
            match.end() <= span.start or match.start() >= span.end or span.start <= match.start() < match.end() <= span.end
            for span in spans
        )
    ]
    if not eligible:
        return None
    chosen = sorted(rng.sample(eligible, max(1, math.ceil(rate * len(eligible)))), key=lambda match: match.start())
    edits = [Edit(match.start(), match.end(), misspell(match[0], rng)) for match in chosen]
    return apply_edits(record, edits, perturbed_id(record.id, TYPO))


def lowercase(record: Record) -> Record | None:
    """Lowercase: every character but the first lowercased, ``None`` if nothing would change.

    A character whose lowercase has another length (e.g. "İ") stays as it is, so no offset moves.
    """
    edits = [
        Edit(i, i + 1, char.lower())
        for i, char in enumerate(record.text)
        if i > 0 and char.lower() != char and len(char.lower()) == 1
    ]
    if not edits:
        return None
    return apply_edits(record, edits, perturbed_id(record.id, LOWERCASE))
