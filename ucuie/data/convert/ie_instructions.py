"""IE INSTRUCTIONS (the InstructUIE release the paper trains on) as NER, RE or EE records.

The release is laid out as ``{TASK}/{dataset}/{split}.json`` plus ``labels.json``; ``TASK`` is
``NER``, ``RE``, ``EE``, ``EET`` (triggers only) or ``EEA`` (arguments of a given event type), the
last three all converted as EE.  A split file is a JSON array (JSON lines are accepted too) of

* NER ``{"sentence", "entities": [{"name", "type", "pos": [start, end]}]}``
* RE ``{"sentence", "relations": [{"head": {"name", "type", "pos"}, "type", "tail": {...}}]}``
* EE ``{"sentence", "events": [{"trigger", "type", "pos", "arguments": [{"name", "role", "pos"}]}]}``

with character offsets (end exclusive).  Items typed ``NA`` or empty are negative placeholders
and are skipped, as InstructUIE does.

Span rules: a ``pos`` that reads the span's name is used as is.  An empty ``pos`` is recovered by
searching the sentence: the first occurrence (whole words first), and for an event argument the
occurrence nearest the trigger.  A ``pos`` that does not read its name is moved to the nearest
occurrence and reported.  A name that does not occur is reported and left out: an entity, a
relation (when its head or tail is missing) or an event (when its trigger is missing) is dropped,
a missing argument is dropped from its event; the record is kept.  An event without a trigger
(possible in EEA) has a Null FrameFiller.

``labels.json`` gives the schema: a list of types for NER and RE (every relation has a subject
and an object slot), ``[event_types, roles]`` for EE (every event type may take every role), and
``{event_type: [roles]}`` for EET and EEA; types found in the records are added to it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ucuie.data.convert.common import (
    Conversion,
    ConversionError,
    Entry,
    Problem,
    checked_span,
    convert_entries,
    dataset_schema,
    find_span,
    read_json_entries,
    split_file,
    splits_in,
)
from ucuie.records import Frame, Record, Slot, Span
from ucuie.tasks import EE, NER, RE

#: The task is told by the caller or by the dataset folder's parent (see :func:`task_of`).
TASK = None
FILE = "{split}.json"
LABELS_FILE = "labels.json"
#: Task folder of the release -> unified task.
TASK_FOLDERS = {"NER": NER, "RE": RE, "EE": EE, "EET": EE, "EEA": EE}
NO_LABEL = frozenset({"", "NA"})
RELATION_SLOTS = ["subject", "object"]


def task_of(source: Path, task: str | None = None) -> str:
    """The unified task of a dataset folder: ``task`` if given, else its parent folder's name."""
    name = task if task is not None else source.resolve().parent.name
    try:
        return TASK_FOLDERS[name.upper()]
    except KeyError:
        raise ConversionError(
            f"cannot tell the task of {source}: {name!r} is not one of {', '.join(TASK_FOLDERS)}; pass the task explicitly"
        ) from None


def splits_available(source: Path) -> list[str]:
    """The splits with a ``{split}.json`` file (``labels.json`` is not a split)."""
    return splits_in(source, FILE, exclude={LABELS_FILE})


def read_labels(path: Path, task: str) -> dict[str, list[str]]:
    """The frame-and-slots schema declared by a ``labels.json`` file, in any of its three layouts."""
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConversionError(f"{path} does not exist; IE INSTRUCTIONS datasets hold a labels.json beside their splits") from None
    except json.JSONDecodeError as exc:
        raise ConversionError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})") from exc
    if isinstance(labels, dict) and all(isinstance(roles, list) for roles in labels.values()):
        return {str(frame): [str(role) for role in roles] for frame, roles in labels.items()}
    if isinstance(labels, list) and len(labels) == 2 and all(isinstance(part, list) for part in labels):
        event_types, roles = labels
        return {str(frame): [str(role) for role in roles] for frame in event_types}
    if isinstance(labels, list) and all(isinstance(label, str) for label in labels):
        return {label: RELATION_SLOTS if task == RE else [] for label in labels}
    raise ConversionError(f"{path} is neither a list of types, [event_types, roles] nor {{event_type: [roles]}}")


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Read ``source/{split}.json`` and ``source/labels.json``; a malformed record is reported and skipped."""
    task = task_of(source, task)
    path = split_file(source, FILE, split, exclude={LABELS_FILE})
    labels = read_labels(source / LABELS_FILE, task)
    frames_of: Callable[[str, dict, list[str]], list[Frame]] = {NER: _entity_frames, RE: _relation_frames, EE: _event_frames}[task]
    problems: list[Problem] = []

    def build(entry: Entry, notes: list[str]) -> Record:
        text = str(entry.value["sentence"])
        frames = frames_of(text, entry.value, notes)
        return Record(id=f"{dataset}-{split}-{entry.index}", text=text, task=task, dataset=dataset, split=split, frames=frames)

    records = convert_entries(path, read_json_entries(path, problems), build, problems)
    return Conversion(records=records, schema=dataset_schema(dataset, task, records, labels), problems=problems)


def _entity_frames(text: str, instance: dict, notes: list[str]) -> list[Frame]:
    frames = []
    for entity in instance["entities"]:
        if entity["type"] not in NO_LABEL:
            span = _locate(text, entity["name"], entity.get("pos"), None, f"{entity['type']} entity", "entity", notes)
            if span is not None:
                frames.append(Frame(type=str(entity["type"]), filler=span))
    return frames


def _relation_frames(text: str, instance: dict, notes: list[str]) -> list[Frame]:
    frames = []
    for relation in instance["relations"]:
        if relation["type"] in NO_LABEL:
            continue
        slots = []
        for name, argument in zip(RELATION_SLOTS, (relation["head"], relation["tail"])):
            span = _locate(text, argument["name"], argument.get("pos"), None, f"{relation['type']} {name}", "relation", notes)
            if span is not None:
                slots.append(Slot(name, span, filler_type=argument.get("type")))
        if len(slots) == len(RELATION_SLOTS):
            frames.append(Frame(type=str(relation["type"]), slots=tuple(slots)))
    return frames


def _event_frames(text: str, instance: dict, notes: list[str]) -> list[Frame]:
    frames = []
    for event in instance["events"]:
        if event["type"] in NO_LABEL:
            continue
        trigger = None
        if event.get("trigger"):
            trigger = _locate(text, event["trigger"], event.get("pos"), None, f"{event['type']} trigger", "event", notes)
            if trigger is None:
                continue
        near = None if trigger is None else trigger.start
        slots = []
        for argument in event.get("arguments", []):
            span = _locate(text, argument["name"], argument.get("pos"), near, f"{argument['role']} argument", "argument", notes)
            if span is not None:
                slots.append(Slot(str(argument["role"]), span))
        frames.append(Frame(type=str(event["type"]), filler=trigger, slots=tuple(slots)))
    return frames


def _locate(text: str, name: object, pos: list | None, near: int | None, what: str, dropped: str, notes: list[str]) -> Span | None:
    """The span of ``name``: at ``pos`` if it reads ``name``, else searched (see the module rules)."""
    name = str(name)
    if pos:
        start, end = int(pos[0]), int(pos[1])
        span = checked_span(text, start, end, name)
        if span is not None:
            return span
        near = start
    span = find_span(text, name, near=near)
    if span is None:
        notes.append(f"{what} {name!r} does not occur in the sentence; {dropped} left out")
    elif pos:
        notes.append(f"{what} {name!r} does not match the sentence at {list(pos)}; moved to [{span.start}, {span.end}]")
    return span
