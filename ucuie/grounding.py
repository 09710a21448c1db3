"""Ground parsed frames in the input text: turn each filler string into a span with offsets.

The rule (with examples in ``docs/format.md``):

1. *Which occurrences.*  The occurrences of a filler are its exact, case-sensitive occurrences in
   the text (overlapping ones included); if there are none, its case-insensitive occurrences; if
   there are none either, the filler is *ungrounded* and becomes ``Span(start=-1, end=-1,
   text=filler)``, which never matches a gold span by offset but still counts for string-match F1.
   An empty filler is always ungrounded.  A missing FrameFiller or SlotFiller (a bare ``Null``;
   judging output has no spans at all) stays missing and is not counted as ungrounded.
2. *Which occurrence.*  The k-th time a string is written as a FrameFiller in the output it takes
   its k-th occurrence (the model writes frames in text order), or its last occurrence when there
   are fewer.  A SlotFiller takes the occurrence nearest to its frame's FrameFiller span when that
   span is grounded (fewest characters between the two spans, the earlier occurrence on a tie);
   otherwise the same k-th-use rule applies, counting uses among such slot fillers only.

A grounded span's text is the text at its offsets, so a case-insensitive match carries the
casing of the input text, and every grounded span satisfies ``text[start:end] == span.text``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from ucuie.linearize import ParsedFrame
from ucuie.records import Frame, Slot, Span


@dataclass
class GroundResult:
    """Grounded frames and the number of filler strings that were not found in the text."""

    frames: list[Frame]
    ungrounded: int


def occurrences(needle: str, text: str) -> list[tuple[int, int]]:
    """Offsets of every exact occurrence of ``needle``, else of every case-insensitive one."""
    if not needle:
        return []
    # A look-ahead group finds overlapping occurrences too ("aa" occurs twice in "aaa").
    pattern = "(?=(" + re.escape(needle) + "))"
    for flags in (0, re.IGNORECASE):
        found = [match.span(1) for match in re.finditer(pattern, text, flags)]
        if found:
            return found
    return []


def _gap(a: tuple[int, int], b: Span) -> int:
    """Characters between two spans (0 when they touch or overlap)."""
    return max(0, a[0] - b.end, b.start - a[1])


class _Grounder:
    """Grounds fillers of one text, remembering how often each string has been used."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.ungrounded = 0
        self._frame_uses: Counter[str] = Counter()
        self._slot_uses: Counter[str] = Counter()
        self._cache: dict[str, list[tuple[int, int]]] = {}

    def _occurrences(self, needle: str) -> list[tuple[int, int]]:
        if needle not in self._cache:
            self._cache[needle] = occurrences(needle, self.text)
        return self._cache[needle]

    def _span(self, needle: str, choice: tuple[int, int] | None) -> Span:
        if choice is None:
            self.ungrounded += 1
            return Span(start=-1, end=-1, text=needle)
        start, end = choice
        return Span(start=start, end=end, text=self.text[start:end])

    def _kth_use(self, needle: str, uses: Counter[str]) -> tuple[int, int] | None:
        found = self._occurrences(needle)
        k = uses[needle]
        uses[needle] += 1
        return found[min(k, len(found) - 1)] if found else None

    def frame_filler(self, needle: str) -> Span:
        return self._span(needle, self._kth_use(needle, self._frame_uses))

    def slot_filler(self, needle: str, anchor: Span | None) -> Span:
        if anchor is None or anchor.start < 0:
            return self._span(needle, self._kth_use(needle, self._slot_uses))
        found = self._occurrences(needle)
        nearest = min(found, key=lambda occurrence: (_gap(occurrence, anchor), occurrence[0])) if found else None
        return self._span(needle, nearest)


def ground(parsed: Sequence[ParsedFrame], text: str) -> GroundResult:
    """Turn parsed frames (strings) into frames whose fillers are spans of ``text``."""
    grounder = _Grounder(text)
    frames = []
    for frame in parsed:
        filler = None if frame.filler is None else grounder.frame_filler(frame.filler)
        slots = tuple(
            Slot(type=slot_type, filler=None if value is None else grounder.slot_filler(value, filler))
            for slot_type, value in frame.slots
        )
        frames.append(Frame(type=frame.type, filler=filler, slots=slots))
    return GroundResult(frames, grounder.ungrounded)
