"""Unified frame-and-slots records (UC-UIE paper, Section 3.2).

Every information unit is a *frame*: a FrameType (entity type, relation type, event type,
sentiment polarity) with an optional FrameFiller span grounded in the text, and typed
SlotFillers (relation subject/object, event arguments, aspect/opinion).  Every span carries
exact character offsets into its record's text (``text[start:end] == span.text``).

Task mapping (one place; see also :mod:`ucuie.tasks`):

======  =============================================================
NER     ``{(entity type: mention): []}``
RE      ``{(relation type: Null): [(subject: ..), (object: ..)]}``
EE      ``{(event type: trigger): [(role: argument), ...]}``
ABSA    ``{(polarity: Null): [(aspect: ..), (opinion: ..)]}``
======  =============================================================

The capability-warming sub-tasks (:mod:`ucuie.subtasks`) use the same records with task
``judging``, ``locating`` or ``associating``; only a judging record has slots without a filler
(it names the slot types present, no spans).

Records are stored one per line as JSON (``.jsonl``); :func:`read_records` validates each
line and names the file and line number of the first bad one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ucuie.jsonio import write_jsonl
from ucuie.tasks import JUDGING, RECORD_TASKS


class RecordError(ValueError):
    """A record (or a line of a data file) is malformed; the message names where."""


@dataclass(frozen=True, order=True)
class Span:
    """A piece of the record's text: ``text == record.text[start:end]`` (end exclusive)."""

    start: int
    end: int
    text: str

    def to_json(self) -> dict:
        return {"text": self.text, "start": self.start, "end": self.end}

    @classmethod
    def from_json(cls, obj: dict) -> Span:
        return cls(start=int(obj["start"]), end=int(obj["end"]), text=str(obj["text"]))


@dataclass(frozen=True)
class Slot:
    """A SlotType and its SlotFiller; ``filler_type`` keeps e.g. the entity type of an RE argument.

    A ``None`` filler (written ``Null``) says only that the slot type is instantiated: judging
    records have such slots; every other record's slots are filled.
    """

    type: str
    filler: Span | None
    filler_type: str | None = None

    def to_json(self) -> dict:
        obj = {"type": self.type, "filler": None if self.filler is None else self.filler.to_json()}
        if self.filler_type is not None:
            obj["filler_type"] = self.filler_type
        return obj

    @classmethod
    def from_json(cls, obj: dict) -> Slot:
        filler = obj["filler"]
        return cls(
            type=str(obj["type"]),
            filler=None if filler is None else Span.from_json(filler),
            filler_type=obj.get("filler_type"),
        )


@dataclass(frozen=True)
class Frame:
    """A FrameType, its FrameFiller (``None`` is the paper's *Null*), and its SlotFillers."""

    type: str
    filler: Span | None = None
    slots: tuple[Slot, ...] = ()

    def to_json(self) -> dict:
        return {
            "type": self.type,
            "filler": None if self.filler is None else self.filler.to_json(),
            "slots": [slot.to_json() for slot in self.slots],
        }

    @classmethod
    def from_json(cls, obj: dict) -> Frame:
        filler = obj.get("filler")
        return cls(
            type=str(obj["type"]),
            filler=None if filler is None else Span.from_json(filler),
            slots=tuple(Slot.from_json(s) for s in obj.get("slots", [])),
        )


@dataclass
class Record:
    """One annotated text of one dataset split, in the unified format."""

    id: str
    text: str
    task: str
    dataset: str
    split: str
    frames: list[Frame] = field(default_factory=list)

    def spans(self) -> Iterator[Span]:
        """Every annotated span (frame fillers and slot fillers)."""
        for frame in self.frames:
            if frame.filler is not None:
                yield frame.filler
            for slot in frame.slots:
                if slot.filler is not None:
                    yield slot.filler

    def validate(self) -> None:
        """Raise :class:`RecordError` unless the task is known, every span matches the text, and
        slots lack a filler exactly in judging records (which carry no spans at all)."""
        if self.task not in RECORD_TASKS:
            raise RecordError(f"record {self.id!r}: unknown task {self.task!r} (expected one of {sorted(RECORD_TASKS)})")
        for frame in self.frames:
            for slot in frame.slots:
                if (slot.filler is None) != (self.task == JUDGING):
                    state = "has a filler" if slot.filler is not None else "has no filler"
                    raise RecordError(
                        f"record {self.id!r}: slot {slot.type!r} of frame {frame.type!r} {state}; "
                        f"only the slots of judging records have none"
                    )
            if self.task == JUDGING and frame.filler is not None:
                raise RecordError(f"record {self.id!r}: judging frame {frame.type!r} has a filler; judging records carry no spans")
        for span in self.spans():
            if not (0 <= span.start < span.end <= len(self.text)):
                raise RecordError(
                    f"record {self.id!r}: span {span.text!r} has offsets [{span.start}, {span.end}) "
                    f"outside the text of length {len(self.text)}"
                )
            if self.text[span.start : span.end] != span.text:
                raise RecordError(
                    f"record {self.id!r}: span {span.text!r} does not match the text at "
                    f"[{span.start}, {span.end}), which reads {self.text[span.start:span.end]!r}"
                )

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "text": self.text,
            "task": self.task,
            "dataset": self.dataset,
            "split": self.split,
            "frames": [frame.to_json() for frame in self.frames],
        }

    @classmethod
    def from_json(cls, obj: dict) -> Record:
        return cls(
            id=str(obj["id"]),
            text=str(obj["text"]),
            task=str(obj["task"]),
            dataset=str(obj["dataset"]),
            split=str(obj["split"]),
            frames=[Frame.from_json(f) for f in obj.get("frames", [])],
        )


def span_at(text: str, start: int, end: int) -> Span:
    """The span of ``text`` between ``start`` and ``end`` (end exclusive)."""
    return Span(start=start, end=end, text=text[start:end])


def write_records(path: str | Path, records: Iterable[Record]) -> int:
    """Write records as JSON lines (atomically); return the count."""
    records = list(records)
    write_jsonl(path, (record.to_json() for record in records))
    return len(records)


def read_records(path: str | Path) -> list[Record]:
    """Read and validate a JSONL file of records; a bad line raises naming the file and line."""
    path = Path(path)
    records = []
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                record = Record.from_json(json.loads(line))
                record.validate()
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise RecordError(f"{path}:{lineno}: {exc}") from exc
            records.append(record)
    return records


@dataclass
class DatasetSchema:
    """The frame-and-slots schema of one dataset: ``{FrameType: [SlotType, ...]}``."""

    dataset: str
    task: str
    frames: dict[str, list[str]]

    def to_json(self) -> dict:
        return {"dataset": self.dataset, "task": self.task, "frames": self.frames}

    @classmethod
    def from_json(cls, obj: dict) -> DatasetSchema:
        return cls(dataset=obj["dataset"], task=obj["task"], frames={k: list(v) for k, v in obj["frames"].items()})

    @classmethod
    def from_records(cls, dataset: str, task: str, records: Iterable[Record]) -> DatasetSchema:
        """Collect the frame types (sorted) and their slot types (in order of first appearance)."""
        frames: dict[str, dict[str, None]] = {}
        for record in records:
            for frame in record.frames:
                frames.setdefault(frame.type, {}).update(dict.fromkeys(slot.type for slot in frame.slots))
        return cls(dataset=dataset, task=task, frames={k: list(v) for k, v in sorted(frames.items())})


def write_schema(path: str | Path, schema: DatasetSchema) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(schema.to_json(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def read_schema(path: str | Path) -> DatasetSchema:
    path = Path(path)
    try:
        return DatasetSchema.from_json(json.loads(path.read_text(encoding="utf-8")))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
        raise RecordError(f"{path}: not a dataset schema file ({exc})") from exc
