"""The unified output string of the paper (Section 3.2) and its tolerant parser.

A record's frames are written as one string::

    {(FT: FF): [(ST1: SF1), (ST2: SF2)], (FT: FF): []}

All frames sit inside one pair of braces, separated by ``", "``, in the order given (callers pass
them sorted by text position); a record without frames is ``{}``; a missing FrameFiller is the
bare word ``Null``.  A type or filler is written bare unless it is empty, equals ``Null``, has
leading or trailing whitespace, or contains one of ``( ) [ ] { } : , " \\`` or a newline; then it
is written in double quotes with ``\\"``, ``\\\\`` and ``\\n`` escapes, so any string survives
:func:`parse` unchanged.  A slot without a filler (judging targets, see
:mod:`ucuie.subtasks`) is written ``(ST: Null)`` and read back as such.

:func:`parse` reads model output, which can be anything: it never raises, keeps every frame it
can read and counts what it had to skip (see ``docs/format.md`` for the exact rules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ucuie.records import Frame, Span

#: The word that stands for a missing FrameFiller (or SlotFiller, in judging targets).
NULL = "Null"

# Characters that end a bare type or filler while parsing.
_STRUCTURE = frozenset('()[]{}:,"')
# Characters that force quoting when writing: the structure, the escape character, newlines.
_NEEDS_QUOTES = _STRUCTURE | {"\\", "\n"}
_ESCAPES = {'"': '"', "\\": "\\", "n": "\n"}


def quote(value: str) -> str:
    """Write a type or filler, in double quotes only where the bare form would be ambiguous."""
    if value and value != NULL and value == value.strip() and not _NEEDS_QUOTES.intersection(value):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def linearize(frames: Sequence[Frame]) -> str:
    """The unified output string of a record's frames, e.g. ``{(person: Barack Obama): []}``."""
    parts = []
    for frame in frames:
        slots = ", ".join(f"({quote(slot.type)}: {_filler(slot.filler)})" for slot in frame.slots)
        parts.append(f"({quote(frame.type)}: {_filler(frame.filler)}): [{slots}]")
    return "{" + ", ".join(parts) + "}"


def _filler(span: Span | None) -> str:
    """A FrameFiller or SlotFiller as written: ``Null`` when missing."""
    return NULL if span is None else quote(span.text)


def format_schema(frames: Mapping[str, Sequence[str]]) -> str:
    """The frame-and-slots schema in the unified notation, e.g. ``{Speech: [Speaker, Place], person: []}``."""
    parts = [f"{quote(frame_type)}: [{', '.join(quote(s) for s in slot_types)}]" for frame_type, slot_types in frames.items()]
    return "{" + ", ".join(parts) + "}"


@dataclass
class ParsedFrame:
    """A frame as read from a string: types and fillers are plain strings, not yet grounded."""

    type: str
    filler: str | None = None
    slots: list[tuple[str, str | None]] = field(default_factory=list)  # a ``None`` filler was a bare Null


@dataclass
class ParseResult:
    """The frames read from a string and the number of malformed stretches that were skipped."""

    frames: list[ParsedFrame]
    errors: int


class _Malformed(Exception):
    """Raised inside the reader when a frame cannot be read at the current position."""


class _Reader:
    """A cursor over the text with the small recursive-descent steps of the grammar."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return "" if self.at_end() else self.text[self.pos]

    def skip_whitespace(self) -> None:
        while not self.at_end() and self.text[self.pos].isspace():
            self.pos += 1

    def expect(self, char: str) -> None:
        self.skip_whitespace()
        if self.peek() != char:
            raise _Malformed
        self.pos += 1

    def atom(self) -> tuple[str, bool]:
        """A quoted or bare string, and whether it was bare (a bare ``Null`` means *missing*)."""
        self.skip_whitespace()
        if self.peek() == '"':
            return self._quoted(), False
        start = self.pos
        while not self.at_end() and self.text[self.pos] not in _STRUCTURE:
            self.pos += 1
        value = self.text[start : self.pos].strip()
        if not value:
            raise _Malformed
        return value, True

    def _quoted(self) -> str:
        self.pos += 1  # the opening quote
        chars = []
        while not self.at_end():
            char = self.text[self.pos]
            if char == '"':
                self.pos += 1
                return "".join(chars)
            if char == "\\" and self.pos + 1 < len(self.text):
                following = self.text[self.pos + 1]
                # An unknown escape is kept as written: the backslash and the character after it.
                chars.append(_ESCAPES.get(following, char + following))
                self.pos += 2
            else:
                chars.append(char)
                self.pos += 1
        raise _Malformed  # the string is not closed

    def frame(self) -> ParsedFrame:
        """``(FT: FF): [(ST: SF), ...]``; a bare ``Null`` filler (frame or slot) is read as ``None``."""
        self.expect("(")
        frame_type, _ = self.atom()
        self.expect(":")
        filler, bare = self.atom()
        self.expect(")")
        self.expect(":")
        self.expect("[")
        slots = []
        while True:
            self.skip_whitespace()
            if self.peek() == "]":
                self.pos += 1
                return ParsedFrame(frame_type, None if bare and filler == NULL else filler, slots)
            self.expect("(")
            slot_type, _ = self.atom()
            self.expect(":")
            slot_filler, slot_bare = self.atom()
            self.expect(")")
            slots.append((slot_type, None if slot_bare and slot_filler == NULL else slot_filler))
            self.skip_whitespace()
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() != "]":
                raise _Malformed


def parse(text: str) -> ParseResult:
    """Read the frames of a unified output string; never raises, counts malformed stretches.

    A frame is kept only when it is complete.  Each stretch of text that is not a frame (garbage
    between frames, a truncated last frame, a missing separator) counts one error and is skipped up
    to the next ``(`` that starts a readable frame.  A missing closing brace after an opening one
    counts one error (unless the text already ended inside a skipped stretch), text after the
    closing brace counts one error, and missing outer braces on both sides are tolerated.
    """
    reader = _Reader(text)
    frames: list[ParsedFrame] = []
    errors = 0
    in_garbage = False  # inside a stretch of skipped text, which is counted once

    reader.skip_whitespace()
    opened = reader.peek() == "{"
    if opened:
        reader.pos += 1
    while True:
        reader.skip_whitespace()
        if reader.at_end():
            if opened and not in_garbage:
                errors += 1  # the output stops before its closing brace
            return ParseResult(frames, errors)
        if reader.peek() == "}":
            reader.pos += 1
            reader.skip_whitespace()
            if not reader.at_end():
                errors += 1  # text after the closing brace
            return ParseResult(frames, errors)
        if reader.peek() == "(":
            start = reader.pos
            try:
                frames.append(reader.frame())
            except _Malformed:
                reader.pos = start + 1
            else:
                in_garbage = False
                reader.skip_whitespace()
                if reader.peek() == ",":
                    reader.pos += 1
                elif reader.peek() not in ("}", ""):
                    errors += 1  # no separator: what follows is garbage until the next frame
                    in_garbage = True
                continue
        else:
            reader.pos += 1
        if not in_garbage:
            errors += 1
            in_garbage = True
