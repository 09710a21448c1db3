"""The one scorer: offset micro-F1 (the headline) and string-match F1 beside it.

Every task turns a record's frames into a *set* of units (so a duplicate counts once) and counts
true positives, false positives and false negatives per record:

===========  ===========  ======================================================================
task         metric       unit
===========  ===========  ======================================================================
ner          entity       (entity type, span)
re           triple       (relation type, subject span, object span)
ee           trigger      (event type, trigger span)
ee           argument     (event type, role, argument span)
absa         triplet      (aspect span, opinion span, polarity)
absa         pair         (aspect span, opinion span): aspect-opinion pair extraction, polarity ignored
judging      judging      frame types present, and (frame type, slot type) pairs present
locating     locating     (frame type, filler span), and (frame type, slot type, slot span)
associating  associating  (frame type, filler span or None, sorted (slot type, slot span) pairs)
===========  ===========  ======================================================================

With *offset* matching a span is its ``(start, end)``; with *string* matching it is its text
lowercased with whitespace collapsed and stripped.  An ungrounded predicted span (offsets -1) can
only match by string.  A relation frame yields one triple per (subject slot, object slot) pair
and an ABSA frame one triplet per (aspect slot, opinion slot) pair, so a frame missing one side
yields none.  A slot without a filler (``Null``) counts only for ``judging``; every other metric
ignores it.

The sub-task records of :mod:`ucuie.subtasks` fit these units: judging frames carry only types;
locating frames are flat typed spans ``(type: span)`` without slots, so each gives the single
unit ``("frame", type, span)`` (``type`` is a frame type or a slot type); associating frames are
the task's own frames, each scored as a whole.

Aggregation: counts are summed over the records of a dataset (micro-F1 per dataset).  Per task,
``task_micro`` sums the counts of all datasets of the task and ``task_macro`` averages the
per-dataset F1.  The paper's Tables 1-3 report per-dataset numbers; its per-task columns are
the mean of the per-dataset F1, i.e. ``task_macro`` (Table 4's NER/RE/ED/EAE columns are the
means of Table 1's rows).  Its "Average" (Tables 1, 4) is the mean over every (dataset, metric) F1:
``overall(average="datasets")``, the default; ``overall(average="tasks")`` is the mean of the
``task_macro`` values over the (task, metric) columns instead.

ABSA's ``pair`` is a diagnostic (:data:`DIAGNOSTIC_METRICS`): it is scored and shown in every
table, so a reader can tell finding the aspect-opinion pairs from judging their polarity, but it
is left out of both averages, which therefore stay the paper's (triplet F1 for ABSA).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import mean

from ucuie.records import Frame, Record, Slot, Span
from ucuie.tasks import ABSA, ASSOCIATING, EE, JUDGING, LOCATING, NER, RE

SUBJECT, OBJECT = "subject", "object"
ASPECT, OPINION = "aspect", "opinion"

#: The metrics reported for each task (and each capability-warming sub-task).
METRICS: dict[str, list[str]] = {
    NER: ["entity"],
    RE: ["triple"],
    EE: ["trigger", "argument"],
    ABSA: ["triplet", "pair"],
    JUDGING: ["judging"],
    LOCATING: ["locating"],
    ASSOCIATING: ["associating"],
}

#: Metrics shown beside the paper's but left out of the "Average": (task, metric).
DIAGNOSTIC_METRICS: frozenset[tuple[str, str]] = frozenset({(ABSA, "pair")})

OFFSET, STRING = "offset", "string"
MATCHINGS: tuple[str, ...] = (OFFSET, STRING)
AVERAGES: tuple[str, ...] = ("datasets", "tasks")


def normalise(text: str) -> str:
    """The string-match form of a span: lowercased, whitespace collapsed, stripped."""
    return " ".join(text.lower().split())


def _offset_key(span: Span) -> tuple:
    # Ungrounded spans keep their text so that two different ones stay two different units.
    return (span.start, span.end) if span.start >= 0 else (-1, -1, span.text)


def _filled(frame: Frame) -> list[Slot]:
    """The slots that have a filler: a slot without one (``Null``) counts only for judging."""
    return [slot for slot in frame.slots if slot.filler is not None]


def _slot_spans(frame: Frame, slot_type: str) -> list[Span]:
    return [slot.filler for slot in _filled(frame) if slot.type == slot_type]


def _entity(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    if frame.filler is not None:
        yield (frame.type, key(frame.filler))


def _triple(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    for subject in _slot_spans(frame, SUBJECT):
        for obj in _slot_spans(frame, OBJECT):
            yield (frame.type, key(subject), key(obj))


def _argument(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    for slot in _filled(frame):
        yield (frame.type, slot.type, key(slot.filler))


def _triplet(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    for aspect in _slot_spans(frame, ASPECT):
        for opinion in _slot_spans(frame, OPINION):
            yield (key(aspect), key(opinion), frame.type)


def _pair(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    for aspect, opinion, _ in _triplet(frame, key):
        yield (aspect, opinion)


def _judging(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    yield ("frame", frame.type)
    for slot in frame.slots:
        yield ("slot", frame.type, slot.type)


def _locating(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    if frame.filler is not None:
        yield ("frame", frame.type, key(frame.filler))
    for slot in _filled(frame):
        yield ("slot", frame.type, slot.type, key(slot.filler))


def _associating(frame: Frame, key: Callable[[Span], Hashable]) -> Iterable[tuple]:
    filler = None if frame.filler is None else key(frame.filler)
    yield (frame.type, filler, tuple(sorted((slot.type, key(slot.filler)) for slot in _filled(frame))))


_UNITS: dict[str, Callable[[Frame, Callable[[Span], Hashable]], Iterable[tuple]]] = {
    "entity": _entity,
    "triple": _triple,
    "trigger": _entity,
    "argument": _argument,
    "triplet": _triplet,
    "pair": _pair,
    "judging": _judging,
    "locating": _locating,
    "associating": _associating,
}


def units(metric: str, frames: Sequence[Frame], matching: str = OFFSET) -> set[tuple]:
    """The set of units of ``metric`` (see the module table) in one record's frames."""
    if metric not in _UNITS:
        raise ValueError(f"unknown metric {metric!r}; expected one of {sorted(_UNITS)}")
    if matching not in MATCHINGS:
        raise ValueError(f"unknown matching {matching!r}; expected one of {list(MATCHINGS)}")
    key: Callable[[Span], Hashable] = _offset_key if matching == OFFSET else (lambda span: normalise(span.text))
    return {unit for frame in frames for unit in _UNITS[metric](frame, key)}


@dataclass(frozen=True)
class Counts:
    """True positives, false positives and false negatives, with P/R/F1 (0 where undefined)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    @classmethod
    def of(cls, gold: set, predicted: set) -> Counts:
        """Counts for one record's gold and predicted unit sets."""
        tp = len(gold & predicted)
        return cls(tp=tp, fp=len(predicted) - tp, fn=len(gold) - tp)


@dataclass(frozen=True)
class MetricResult:
    """The counts of one metric on one dataset, for both matchings."""

    dataset: str
    task: str
    metric: str
    offset: Counts
    string: Counts

    def counts(self, matching: str) -> Counts:
        """The counts of ``matching`` (``"offset"`` or ``"string"``)."""
        if matching not in MATCHINGS:
            raise ValueError(f"unknown matching {matching!r}; expected one of {list(MATCHINGS)}")
        return self.offset if matching == OFFSET else self.string


@dataclass
class Scores:
    """Per-dataset results, with per-task and overall aggregates (see the module docstring)."""

    results: list[MetricResult]

    def get(self, dataset: str, metric: str) -> MetricResult:
        """The result of ``metric`` on ``dataset``."""
        for result in self.results:
            if result.dataset == dataset and result.metric == metric:
                return result
        raise KeyError(f"no result for metric {metric!r} on dataset {dataset!r}")

    def columns(self) -> list[tuple[str, str]]:
        """The (task, metric) pairs that have results, in the order of :data:`METRICS`."""
        present = {(r.task, r.metric) for r in self.results}
        return [(task, metric) for task, metrics in METRICS.items() for metric in metrics if (task, metric) in present]

    def _of(self, task: str, metric: str) -> list[MetricResult]:
        found = [r for r in self.results if r.task == task and r.metric == metric]
        if not found:
            raise KeyError(f"no result for metric {metric!r} of task {task!r}")
        return found

    def task_micro(self, task: str, metric: str, matching: str = OFFSET) -> Counts:
        """Counts summed over every dataset of ``task``."""
        return sum((r.counts(matching) for r in self._of(task, metric)), Counts())

    def task_macro(self, task: str, metric: str, matching: str = OFFSET) -> float:
        """The mean of the per-dataset F1 over every dataset of ``task``."""
        return mean(r.counts(matching).f1 for r in self._of(task, metric))

    def overall(self, matching: str = OFFSET, average: str = "datasets") -> float:
        """The mean F1 over every (dataset, metric) result (``"datasets"``, the paper's "Average")
        or over the (task, metric) columns of ``task_macro`` (``"tasks"``); diagnostic metrics
        (:data:`DIAGNOSTIC_METRICS`) take no part; 0 without results."""
        if average not in AVERAGES:
            raise ValueError(f"unknown average {average!r}; expected one of {list(AVERAGES)}")
        results = [r for r in self.results if (r.task, r.metric) not in DIAGNOSTIC_METRICS]
        if not results:
            return 0.0
        if average == "datasets":
            return mean(r.counts(matching).f1 for r in results)
        return mean(self.task_macro(t, m, matching) for t, m in self.columns() if (t, m) not in DIAGNOSTIC_METRICS)

    def to_json(self) -> list[dict]:
        """The per-dataset counts (aggregates are recomputed from them, never stored)."""
        return [
            {"dataset": r.dataset, "task": r.task, "metric": r.metric, **{m: vars(r.counts(m)) for m in MATCHINGS}}
            for r in self.results
        ]

    @classmethod
    def from_json(cls, rows: Sequence[Mapping]) -> Scores:
        """Scores from :meth:`to_json` rows, e.g. those of several datasets' score files joined."""
        return cls([MetricResult(r["dataset"], r["task"], r["metric"], Counts(**r[OFFSET]), Counts(**r[STRING])) for r in rows])

    def to_rows(self) -> list[dict]:
        """Long-format rows for pandas: one per (scope, dataset or task, metric, matching).

        ``scope`` is ``dataset`` (counts and P/R/F1 of one dataset), ``task_micro`` (counts summed
        over the task's datasets), ``task_macro`` (mean per-dataset F1; no counts) or ``overall``
        (both averages of :meth:`overall`, named in ``metric``; no counts).
        """
        rows = []

        def row(scope: str, dataset: str, task: str, metric: str, matching: str, counts: Counts | None, f1: float) -> None:
            rows.append(
                {
                    "scope": scope,
                    "dataset": dataset,
                    "task": task,
                    "metric": metric,
                    "matching": matching,
                    "tp": None if counts is None else counts.tp,
                    "fp": None if counts is None else counts.fp,
                    "fn": None if counts is None else counts.fn,
                    "precision": None if counts is None else counts.precision,
                    "recall": None if counts is None else counts.recall,
                    "f1": f1,
                }
            )

        for matching in MATCHINGS:
            for r in self.results:
                counts = r.counts(matching)
                row("dataset", r.dataset, r.task, r.metric, matching, counts, counts.f1)
            for task, metric in self.columns():
                counts = self.task_micro(task, metric, matching)
                row("task_micro", "", task, metric, matching, counts, counts.f1)
                row("task_macro", "", task, metric, matching, None, self.task_macro(task, metric, matching))
            for average in AVERAGES:
                row("overall", "", "", average, matching, None, self.overall(matching, average))
        return rows


def score(gold: Sequence[Record], predicted: Mapping[str, Sequence[Frame]]) -> Scores:
    """Score predicted frames (keyed by record id) against gold records; a missing id predicts nothing."""
    ids = Counter(record.id for record in gold)
    duplicated = sorted(i for i, n in ids.items() if n > 1)
    if duplicated:
        raise ValueError(f"gold record id {duplicated[0]!r} occurs more than once; record ids must be unique")
    unknown = sorted(set(predicted) - set(ids))
    if unknown:
        raise ValueError(
            f"prediction for record {unknown[0]!r} has no gold record; score predictions against the split they were made for"
        )

    # Metric names differ between tasks, so a dataset used by several tasks (ACE2005: NER, ED, EAE)
    # keeps its results apart.
    totals: dict[tuple[str, str, str], dict[str, Counts]] = {}
    for record in gold:
        if record.task not in METRICS:
            raise ValueError(
                f"record {record.id!r} has task {record.task!r}, which has no metrics; expected one of {sorted(METRICS)}"
            )
        prediction = predicted.get(record.id, ())
        for metric in METRICS[record.task]:
            counts = totals.setdefault((record.dataset, record.task, metric), {m: Counts() for m in MATCHINGS})
            for matching in MATCHINGS:
                counts[matching] += Counts.of(units(metric, record.frames, matching), units(metric, prediction, matching))
    return Scores(
        [
            MetricResult(dataset, task, metric, counts[OFFSET], counts[STRING])
            for (dataset, task, metric), counts in sorted(totals.items())
        ]
    )
