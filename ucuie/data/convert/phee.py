"""PHEE (pharmacovigilance events) as EE records.

Each line of ``{split}.json`` is ``{"id", "context", "annotations": [{"events": [...]}]}``; an
event has ``event_type``, a ``Trigger`` and main arguments (``Subject``, ``Treatment``,
``Effect``), which may hold nested sub-arguments (``Treatment`` -> ``Drug``, ``Dosage``, ...).
Every argument is ``{"text": [[piece, ...], ...], "start": [[offset, ...], ...]}``: the outer list
holds separate mentions, the inner list the pieces of one discontinuous mention, with character
offsets into ``context``.

Rules: each mention is one slot; a discontinuous mention becomes the contiguous span from its
first piece's start to its last piece's end (every piece must read its text at its offset, else
the mention is reported and left out).  Main arguments keep their name as the role; a
sub-argument's role is ``Main.Sub`` (``Treatment.Drug``, ``Subject.Disorder``), since
``Disorder`` occurs under both ``Subject`` and ``Treatment``.  The event attributes
``Speculated``, ``Negated`` and ``Severity`` are cue words with values, not arguments, and are
not converted.
"""

from __future__ import annotations

from pathlib import Path

from ucuie.data.convert.common import (
    Conversion,
    Entry,
    Problem,
    checked_span,
    convert_entries,
    dataset_schema,
    read_json_entries,
    split_file,
)
from ucuie.records import Frame, Record, Slot, Span, span_at
from ucuie.tasks import EE

TASK = EE
FILE = "{split}.json"
TRIGGER = "Trigger"
ATTRIBUTES = frozenset({"Speculated", "Negated", "Severity"})


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Read ``source/{split}.json``; a malformed line is reported and skipped."""
    path = split_file(source, FILE, split)
    problems: list[Problem] = []

    def build(entry: Entry, notes: list[str]) -> Record:
        document = entry.value
        text = str(document["context"])
        frames = []
        for annotation in document["annotations"]:
            for event in annotation["events"]:
                triggers = _mentions(text, event[TRIGGER], f"{event['event_type']} trigger", notes)
                if len(triggers) != 1:
                    notes.append(f"event {event.get('event_id')!r} has {len(triggers)} usable triggers, expected 1; event left out")
                    continue
                frames.append(Frame(type=str(event["event_type"]), filler=triggers[0], slots=tuple(_slots(text, event, notes))))
        return Record(id=f"{dataset}-{split}-{document['id']}", text=text, task=EE, dataset=dataset, split=split, frames=frames)

    records = convert_entries(path, read_json_entries(path, problems), build, problems)
    return Conversion(records=records, schema=dataset_schema(dataset, EE, records), problems=problems)


def _slots(text: str, event: dict, notes: list[str]) -> list[Slot]:
    slots = []
    for role, argument in _arguments(event):
        slots.extend(Slot(role, span) for span in _mentions(text, argument, role, notes))
    return slots


def _arguments(event: dict) -> list[tuple[str, dict]]:
    """``(role, argument)`` for every main argument and, after it, its sub-arguments."""
    found = []
    for name, argument in event.items():
        if isinstance(argument, dict) and name != TRIGGER and name not in ATTRIBUTES:
            found.append((name, argument))
            found.extend((f"{name}.{sub}", value) for sub, value in argument.items() if isinstance(value, dict))
    return found


def _mentions(text: str, argument: dict, role: str, notes: list[str]) -> list[Span]:
    """One span per mention; a mention whose pieces do not match the text is noted and left out."""
    spans = []
    for pieces, starts in zip(argument["text"], argument["start"], strict=True):
        checked = [checked_span(text, int(start), int(start) + len(piece), piece) for piece, start in zip(pieces, starts, strict=True)]
        if not checked or None in checked:
            notes.append(f"{role} {' … '.join(pieces)!r} does not match the context at {starts}; mention left out")
            continue
        spans.append(span_at(text, min(span.start for span in checked), max(span.end for span in checked)))
    return spans
