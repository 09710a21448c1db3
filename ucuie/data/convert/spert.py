"""The SpERT JSON layout (CoNLL04 as published with PFN) as RE records.

``{split}_triples.json`` is a JSON array of ``{"tokens", "entities": [{"type", "start", "end"}],
"relations": [{"type", "head", "tail"}], "orig_id"}``: entity ``start``/``end`` are token indices
(end exclusive), ``head``/``tail`` index into ``entities``.  The text is the tokens joined by
single spaces.  Each relation becomes a frame with a *subject* (head) and an *object* (tail) slot
whose ``filler_type`` is the entity type.  ``rel2idx.json`` beside the splits, when present,
declares the relation types of the schema.
"""

from __future__ import annotations

import json
from pathlib import Path

from ucuie.data.convert.common import (
    Conversion,
    ConversionError,
    Entry,
    Problem,
    TokenText,
    convert_entries,
    dataset_schema,
    read_json_entries,
    split_file,
)
from ucuie.records import Frame, Record, Slot, Span
from ucuie.tasks import RE

TASK = RE
FILE = "{split}_triples.json"
RELATION_TYPES_FILE = "rel2idx.json"
SLOTS = ["subject", "object"]


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Read ``source/{split}_triples.json``; a malformed record is reported and skipped."""
    path = split_file(source, FILE, split)
    problems: list[Problem] = []

    def build(entry: Entry, notes: list[str]) -> Record:
        sentence = entry.value
        text = TokenText([str(token) for token in sentence["tokens"]])
        arguments = [(str(entity["type"]), text.span(int(entity["start"]), int(entity["end"]))) for entity in sentence["entities"]]
        frames = []
        for relation in sentence["relations"]:
            (head_type, head), (tail_type, tail) = _entity(arguments, relation["head"]), _entity(arguments, relation["tail"])
            slots = (Slot("subject", head, filler_type=head_type), Slot("object", tail, filler_type=tail_type))
            frames.append(Frame(type=relation["type"], slots=slots))
        return Record(id=f"{dataset}-{split}-{entry.index}", text=text.text, task=RE, dataset=dataset, split=split, frames=frames)

    records = convert_entries(path, read_json_entries(path, problems), build, problems)
    return Conversion(records=records, schema=dataset_schema(dataset, RE, records, _declared_relations(source)), problems=problems)


def _entity(arguments: list[tuple[str, Span]], index: object) -> tuple[str, Span]:
    if not isinstance(index, int) or not 0 <= index < len(arguments):
        raise ValueError(f"a relation refers to entity {index!r} but the sentence has {len(arguments)} entities")
    return arguments[index]


def _declared_relations(source: Path) -> dict[str, list[str]]:
    path = source / RELATION_TYPES_FILE
    if not path.is_file():
        return {}
    try:
        return {str(relation): SLOTS for relation in json.loads(path.read_text(encoding="utf-8"))}
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); fix or remove it") from exc
