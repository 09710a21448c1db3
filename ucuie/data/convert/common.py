"""What every converter shares: the result types, reading JSON files record by record, and spans.

A converter turns one split of a published dataset into unified :class:`~ucuie.records.Record`
objects.  Whatever it cannot convert (a malformed line, a span whose offsets do not match its text,
a span that cannot be found) becomes a :class:`Problem` naming the file and line, and the rest of
the file is still converted: nothing is dropped silently.
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from ucuie.records import DatasetSchema, Record, Span, span_at

#: The splits in the order they are listed; any other split name sorts after them.
SPLIT_ORDER = ("train", "dev", "test")


class ConversionError(ValueError):
    """A whole source cannot be converted (missing file, unknown format or task, bad label file)."""


@dataclass(frozen=True)
class Problem:
    """Something in ``file`` (at ``line`` when known) that was reported and left out."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.message}"


@dataclass
class Conversion:
    """The records of one dataset split, its frame-and-slots schema, and what was left out."""

    records: list[Record]
    schema: DatasetSchema
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True)
class Entry:
    """One record of a source file: where it starts (line, and index in a JSON array) and its value."""

    line: int
    index: int
    value: object
    in_array: bool = False

    @property
    def where(self) -> str:
        """How a message names the record: ``record 17: ...`` inside a JSON array, else nothing."""
        return f"record {self.index}: " if self.in_array else ""


def split_file(source: Path, pattern: str, split: str, exclude: Iterable[str] = ()) -> Path:
    """The file of ``split`` in ``source`` (``pattern`` like ``{split}.json``); raise if it is missing."""
    path = source / pattern.format(split=split)
    if not path.is_file():
        available = ", ".join(splits_in(source, pattern, exclude)) or "none"
        raise ConversionError(f"{path} does not exist (splits found in {source}: {available})")
    return path


def splits_in(source: Path, pattern: str, exclude: Iterable[str] = ()) -> list[str]:
    """The split names for which ``source`` holds a file named by ``pattern``, train/dev/test first."""
    prefix, suffix = pattern.split("{split}")
    names = {
        path.name[len(prefix) : len(path.name) - len(suffix)]
        for path in source.glob(pattern.format(split="*"))
        if path.is_file() and path.name not in exclude
    }
    return sort_splits(names)


def sort_splits(names: Iterable[str]) -> list[str]:
    """Split names with train, dev, test first and any others after them alphabetically."""
    return sorted(names, key=lambda name: (SPLIT_ORDER.index(name) if name in SPLIT_ORDER else len(SPLIT_ORDER), name))


def read_json_entries(path: Path, problems: list[Problem]) -> Iterator[Entry]:
    """The records of a JSON array file or a JSON-lines file (told apart by the first character).

    An invalid JSON line is reported and skipped.  Inside an array, a syntax error ends the array:
    it is reported with the record index and the line where the record starts, and the records
    before it are kept.
    """
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("["):
        yield from _array_entries(path, text, problems)
        return
    for lineno, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield Entry(line=lineno, index=lineno - 1, value=json.loads(line))
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), lineno, f"invalid JSON ({exc.msg} at column {exc.colno}); line skipped"))


def _array_entries(path: Path, text: str, problems: list[Problem]) -> Iterator[Entry]:
    newlines = [match.start() for match in re.finditer("\n", text)]
    decoder = json.JSONDecoder()
    blank = re.compile(r"\s*")
    pos = blank.match(text).end() + 1  # just after the opening "["
    index = 0
    while True:
        pos = blank.match(text, pos).end()
        if text.startswith("]", pos):
            return
        line = _line_at(newlines, pos)
        try:
            value, pos = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), line, f"record {index}: invalid JSON ({exc.msg}); the rest of the array is not read"))
            return
        yield Entry(line=line, index=index, value=value, in_array=True)
        index += 1
        pos = blank.match(text, pos).end()
        if text.startswith(",", pos):
            pos += 1
        elif not text.startswith("]", pos):
            message = f"expected ',' or ']' after record {index - 1}; the rest of the array is not read"
            problems.append(Problem(str(path), _line_at(newlines, pos), message))
            return


def _line_at(newlines: list[int], pos: int) -> int:
    """The 1-based line of character ``pos``, given the positions of the newlines."""
    return bisect.bisect_right(newlines, pos - 1) + 1


def convert_entries(
    path: Path, entries: Iterable[Entry], build: Callable[[Entry, list[str]], Record], problems: list[Problem]
) -> list[Record]:
    """Build and validate a record from each entry; a malformed entry is reported and skipped.

    ``build`` may append a note for each span it had to leave out of an otherwise good record;
    every note becomes a problem at the entry's line.
    """
    records = []
    for entry in entries:
        notes: list[str] = []
        try:
            record = build(entry, notes)
            record.validate()
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            problems.append(Problem(str(path), entry.line, f"{entry.where}{describe(exc)}; record skipped"))
            continue
        problems.extend(Problem(str(path), entry.line, f"{entry.where}{note}") for note in notes)
        records.append(record)
    return records


def describe(exc: Exception) -> str:
    """A one-line description of why a record could not be read."""
    if isinstance(exc, KeyError):
        return f"missing key {exc.args[0]!r}"
    if isinstance(exc, ValueError):
        return str(exc)
    return f"malformed record ({type(exc).__name__}: {exc})"


class TokenText:
    """Text made by joining tokens with single spaces, and the character offsets of each token."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.text = " ".join(tokens)
        self.starts = []
        offset = 0
        for token in tokens:
            self.starts.append(offset)
            offset += len(token) + 1

    def span(self, first: int, end: int) -> Span:
        """The span covering tokens ``first`` to ``end`` (exclusive)."""
        if not 0 <= first < end <= len(self.tokens):
            raise ValueError(f"token range [{first}, {end}) is outside the {len(self.tokens)} tokens")
        return span_at(self.text, self.starts[first], self.starts[end - 1] + len(self.tokens[end - 1]))


def checked_span(text: str, start: int, end: int, expected: str) -> Span | None:
    """The span at ``[start, end)`` if it reads ``expected``, else ``None``."""
    if 0 <= start < end <= len(text) and text[start:end] == expected:
        return span_at(text, start, end)
    return None


def find_span(text: str, needle: str, near: int | None = None) -> Span | None:
    """Find ``needle`` in ``text``: the first occurrence, or the one starting nearest ``near``.

    Whole-word occurrences (not inside a longer word) are preferred over occurrences inside words;
    among equally near occurrences the earlier one wins.  ``None`` when ``needle`` does not occur.
    """
    if not needle:
        return None
    starts = [m.start() for m in re.finditer(f"(?={re.escape(needle)})", text)]
    whole_words = [s for s in starts if _is_word_boundary(text, s) and _is_word_boundary(text, s + len(needle))]
    candidates = whole_words or starts
    if not candidates:
        return None
    start = candidates[0] if near is None else min(candidates, key=lambda s: (abs(s - near), s))
    return span_at(text, start, start + len(needle))


def _is_word_boundary(text: str, i: int) -> bool:
    return i <= 0 or i >= len(text) or not (text[i - 1].isalnum() and text[i].isalnum())


def dataset_schema(dataset: str, task: str, records: Iterable[Record], known: dict[str, list[str]] | None = None) -> DatasetSchema:
    """The schema of ``records`` united with a label set the source declares (``known``)."""
    frames = {frame: set(slots) for frame, slots in (known or {}).items()}
    for frame, slots in DatasetSchema.from_records(dataset, task, records).frames.items():
        frames.setdefault(frame, set()).update(slots)
    return DatasetSchema(dataset=dataset, task=task, frames={frame: sorted(slots) for frame, slots in sorted(frames.items())})
