"""Capability sub-task data for capability warming (paper Sections 3.3 and 3.5: D_J, D_L, D_A).

Each sub-task record is derived from one unified record of an IE task and exercises one
capability; its id is ``<source id>#<capability>``, its dataset and split are the source's and its
task is the capability.  Definitions (worked examples per task in ``docs/capabilities.md``):

* **judging** -- which frame types and slot types are instantiated, without spans: one frame per
  distinct frame type of the record, filler ``Null``, with one ``(slot type: Null)`` per distinct
  slot type of that type's frames; types in order of first appearance in the source target.  A
  record without frames gives ``{}`` and is kept (judging that nothing is present is part of the
  skill).  Schema line: the dataset schema.
* **locating** -- the spans that fill frames and slots, typed but not linked: one slot-less frame
  ``(type: span)`` per FrameFiller (typed by its frame type) and per SlotFiller (typed by its slot
  type), a (type, span) pair once, ordered by offset (ties keep source order).  Every record is
  kept.  Schema line: the locatable types ``{type: [], ...}``: the frame types of tasks whose
  frames have a FrameFiller (NER, EE), then the slot types.
* **associating** -- linking given elements into frames: the target is the source target; the
  input adds a hint with the frame types present (judging's frame-level answer: relation types and
  polarities are judging, not linking) and the typed spans (locating's answer).  Records without
  spans have nothing to link and are left out.  NER has no associating sub-task: an entity is a
  frame on its own, so the target would repeat the located spans (:func:`ucuie.tasks.capabilities_of`
  gives NER judging and locating only).  Schema line: the dataset schema.

Sub-task records score with :func:`ucuie.scoring.score` under their task name (see the units in
:mod:`ucuie.scoring`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from ucuie.linearize import quote
from ucuie.prompts import Instance, build_instances
from ucuie.records import DatasetSchema, Frame, Record, Slot, Span
from ucuie.tasks import ABSA, ASSOCIATING, CAPABILITIES, EE, JUDGING, LOCATING, NER, RE, TASKS, capabilities_of

#: Whether a task's frames have a FrameFiller (entity mention, trigger) that locating must find.
FRAME_FILLERS: dict[str, bool] = {NER: True, RE: False, EE: True, ABSA: False}

#: Separates the source record id from the capability in a sub-task record id.
ID_SEPARATOR = "#"


def subtask_id(record_id: str, capability: str) -> str:
    """The id of the ``capability`` sub-task record of source record ``record_id``."""
    return f"{record_id}{ID_SEPARATOR}{capability}"


def judging_frames(frames: Sequence[Frame]) -> list[Frame]:
    """One span-less frame per distinct frame type, with the distinct slot types of its frames."""
    slot_types: dict[str, dict[str, None]] = {}
    for frame in frames:
        slot_types.setdefault(frame.type, {}).update(dict.fromkeys(slot.type for slot in frame.slots))
    return [Frame(type=t, filler=None, slots=tuple(Slot(s, None) for s in slots)) for t, slots in slot_types.items()]


def located_spans(frames: Sequence[Frame]) -> list[tuple[str, Span]]:
    """Every filler with its frame type (FrameFiller) or slot type (SlotFiller): each (type, span)
    once, ordered by offset; ties keep the order of the frames."""
    unique: dict[tuple[str, int, int], Span] = {}
    for frame in frames:
        typed = [(frame.type, frame.filler), *((slot.type, slot.filler) for slot in frame.slots)]
        for type_, span in typed:
            if span is not None:
                unique.setdefault((type_, span.start, span.end), span)
    ordered = sorted(unique.items(), key=lambda item: (item[1].start, item[1].end))
    return [(type_, span) for (type_, _, _), span in ordered]


def locating_frames(frames: Sequence[Frame]) -> list[Frame]:
    """The located spans as slot-less frames ``(type: span)``."""
    return [Frame(type=type_, filler=span) for type_, span in located_spans(frames)]


def associating_hint(frames: Sequence[Frame]) -> str:
    """The associating input after the text: the frame types present and the typed spans, e.g.
    ``Frame types: works_for`` and ``Spans: (subject: John), (object: IBM)`` on two lines."""
    types = ", ".join(quote(frame.type) for frame in judging_frames(frames))
    spans = ", ".join(f"({quote(type_)}: {quote(span.text)})" for type_, span in located_spans(frames))
    return f"Frame types: {types}\nSpans: {spans}"


def _check(capability: str, task: str, where: str) -> None:
    """Refuse an unknown capability, a task that is not an IE task, or a capability the task lacks."""
    if capability not in CAPABILITIES:
        raise ValueError(f"{where}: unknown capability {capability!r}; expected one of {list(CAPABILITIES)}")
    if task not in TASKS:
        raise ValueError(f"{where}: task {task!r} is not an IE task ({', '.join(TASKS)}); sub-tasks are built from IE records")
    if capability not in capabilities_of(task):
        raise ValueError(
            f"{where}: task {task!r} has no {capability} sub-task; it needs only {', '.join(capabilities_of(task))}"
        )


def subtask_record(record: Record, capability: str) -> Record | None:
    """The ``capability`` sub-task record of ``record``, or ``None`` where it has none (associating
    without spans)."""
    _check(capability, record.task, f"record {record.id!r}")
    if capability == JUDGING:
        frames = judging_frames(record.frames)
    elif capability == LOCATING:
        frames = locating_frames(record.frames)
    else:
        if next(record.spans(), None) is None:
            return None
        frames = list(record.frames)
    return Record(subtask_id(record.id, capability), record.text, capability, record.dataset, record.split, frames)


def subtask_records(records: Iterable[Record], capability: str) -> list[Record]:
    """The ``capability`` sub-task records of ``records``, in their order (see the module docstring)."""
    derived = (subtask_record(record, capability) for record in records)
    return [record for record in derived if record is not None]


def subtask_schema(schema: DatasetSchema, capability: str) -> DatasetSchema:
    """What the ``Schema:`` line of a ``capability`` prompt shows for this dataset."""
    _check(capability, schema.task, f"schema of dataset {schema.dataset!r}")
    if capability != LOCATING:
        return DatasetSchema(schema.dataset, capability, {t: list(slots) for t, slots in schema.frames.items()})
    types = list(schema.frames) if FRAME_FILLERS[schema.task] else []
    types += [slot for slots in schema.frames.values() for slot in slots]
    return DatasetSchema(schema.dataset, capability, {t: [] for t in dict.fromkeys(types)})


def build_subtask_instances(
    records: Sequence[Record], schema: DatasetSchema, pools: Mapping[str, Sequence[str]], seed: int, capability: str
) -> list[Instance]:
    """The ``capability`` instances of one split: sub-task records with instructions drawn from
    ``pools[capability]`` (seeded per sub-task id, as :func:`ucuie.prompts.build_instances` does)
    and, for associating, the hint.  ``pools`` maps task names to instructions (``pool.json``'s
    ``instructions``)."""
    _check(capability, schema.task, f"schema of dataset {schema.dataset!r}")
    for record in records:
        if record.task != schema.task:
            raise ValueError(
                f"record {record.id!r} has task {record.task!r}, but the schema of dataset {schema.dataset!r} is for {schema.task!r}"
            )
    if capability not in pools:
        raise ValueError(f"the instruction pools have no entry {capability!r} (they have {', '.join(pools) or 'none'})")
    derived = subtask_records(records, capability)
    instances = build_instances(derived, subtask_schema(schema, capability), pools[capability], seed)
    if capability != ASSOCIATING:
        return instances
    return [replace(instance, hint=associating_hint(record.frames)) for instance, record in zip(instances, derived)]
