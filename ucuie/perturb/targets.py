"""What the generated perturbation types change, and how a choice becomes a perturbed record.

Shared by both backends (:mod:`ucuie.perturb.lexicon` and :mod:`ucuie.perturb.llm`) and by the
validators, so "which spans does Replace Triple replace" has one answer:

* Replace Entity replaces the NER mentions (frame fillers), keyed by entity type;
* Replace Triple replaces the RE subjects and objects (slot fillers), keyed by the slot's
  ``filler_type`` (its entity type), or by ``(relation type, slot type)`` when it has none;
* Replace Trigger replaces the event triggers (frame fillers), keyed by event type; the
  arguments stay.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from ucuie.perturb.edits import Edit, apply_edits, perturbed_id
from ucuie.perturb.kinds import REPLACE_ENTITY, REPLACE_TRIGGER, REPLACE_TRIPLE
from ucuie.perturb.words import context_words, match_case
from ucuie.records import Frame, Record, Slot, Span

#: The pool a replaced span draws from: an entity or event type, or (relation type, slot type).
PoolKey = str | tuple[str, str]
#: Change Context replaces at most this many words (the paper's masks).
MAX_CONTEXT_WORDS = 4
SIDES = ("before", "after")


@dataclass(frozen=True)
class Mention:
    """One distinct string a Replace type replaces: every pool it belongs to and all its spans."""

    text: str
    keys: tuple[PoolKey, ...]
    spans: tuple[Span, ...]


def argument_key(frame: Frame, slot: Slot) -> PoolKey:
    """The pool of an RE argument: its entity type, else its relation and slot type."""
    return slot.filler_type if slot.filler_type is not None else (frame.type, slot.type)


def annotated_spans(record: Record, kind: str) -> list[tuple[Span, PoolKey | None]]:
    """Every span in frame order (each frame's filler, then its slots' fillers), with its pool
    key when ``kind`` replaces it and ``None`` when it must stay as it is."""
    spans: list[tuple[Span, PoolKey | None]] = []
    for frame in record.frames:
        if frame.filler is not None:
            replaced = kind in (REPLACE_ENTITY, REPLACE_TRIGGER)
            spans.append((frame.filler, frame.type if replaced else None))
        for slot in frame.slots:
            if slot.filler is not None:
                spans.append((slot.filler, argument_key(frame, slot) if kind == REPLACE_TRIPLE else None))
    return spans


def _overlap(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def mentions_to_replace(record: Record, kind: str) -> list[Mention] | None:
    """The mentions ``kind`` replaces in ``record``, in text order, one per distinct string; ``None``
    when there is none, or when replaced spans overlap each other (nested mentions) or a span
    that stays: such a record is skipped rather than broken.  Spans at the same offsets (an argument
    shared by two triples) are one mention."""
    spans = annotated_spans(record, kind)
    replaced = sorted({span for span, key in spans if key is not None})
    kept = [span for span, key in spans if key is None]
    if not replaced:
        return None
    if any(_overlap(a, b) for a, b in zip(replaced, replaced[1:])) or any(_overlap(a, b) for a in replaced for b in kept):
        return None
    keys: dict[str, dict[PoolKey, None]] = {}
    positions: dict[str, dict[Span, None]] = {}
    for span, key in sorted((pair for pair in spans if pair[1] is not None), key=lambda pair: pair[0]):
        keys.setdefault(span.text, {})[key] = None
        positions.setdefault(span.text, {})[span] = None
    return [Mention(text, tuple(keys[text]), tuple(positions[text])) for text in keys]


def replace_mentions(record: Record, replacements: dict[str, str], mentions: list[Mention], kind: str) -> Record:
    """``record`` with every span of each mention replaced by ``replacements[mention.text]``."""
    edits = [Edit(span.start, span.end, replacements[mention.text]) for mention in mentions for span in mention.spans]
    return apply_edits(record, edits, perturbed_id(record.id, kind))


def pick_context_words(
    record: Record, rng: random.Random, max_words: int = MAX_CONTEXT_WORDS, usable: Callable[[str], bool] | None = None
) -> list[re.Match]:
    """Up to ``max_words`` context words (:func:`~ucuie.perturb.words.context_words`), drawn at
    random among those for which ``usable`` holds (all when it is ``None``), in text order."""
    candidates = [match for match in context_words(record) if usable is None or usable(match[0])]
    return sorted(rng.sample(candidates, min(max_words, len(candidates))), key=lambda match: match.start())


def replace_words(record: Record, choices: list[tuple[re.Match, str]], kind: str) -> Record:
    """``record`` with each chosen word replaced (first letter capitalised like the word it replaces)."""
    edits = [Edit(match.start(), match.end(), match_case(new, match[0])) for match, new in choices]
    return apply_edits(record, edits, perturbed_id(record.id, kind))


def extend(record: Record, addition: str, side: str, kind: str) -> Record:
    """``record`` with ``addition`` put before or after its text, separated by a space."""
    if side not in SIDES:
        raise ValueError(f"an extension goes {' or '.join(SIDES)} the text, not {side!r}")
    if side == "before":
        edit = Edit(0, 0, addition + " ")
    else:
        edit = Edit(len(record.text), len(record.text), " " + addition)
    return apply_edits(record, [edit], perturbed_id(record.id, kind))
