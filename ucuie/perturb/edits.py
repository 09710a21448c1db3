"""Text edits that keep every annotation grounded: the one primitive all perturbations use.

An :class:`Edit` replaces ``text[start:end]`` (end exclusive; ``start == end`` is an insertion).
:func:`apply_edits` applies non-overlapping edits and moves every span of every frame with the
text.  Relative to a span ``[s, e)`` an edit is

* *before* it (``end <= s``; an insertion at ``s`` too) or *after* it (``start >= e``; an
  insertion at ``e`` too): the span shifts;
* *inside* it (``s <= start`` and ``end <= e``; the exact span included, and an insertion strictly
  between ``s`` and ``e``): the span's end and text change with it (a typo in a mention, a
  replaced mention);
* anything else cuts through the span's boundary: :class:`EditError`, never a guessed span.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from ucuie.records import Frame, Record, Span


class EditError(ValueError):
    """Edits overlap each other or cut through an annotated span; the message names the record."""


@dataclass(frozen=True, order=True)
class Edit:
    """Replace ``text[start:end]`` by ``replacement`` (``start == end``: insert at ``start``)."""

    start: int
    end: int
    replacement: str


def perturbed_id(record_id: str, kind: str) -> str:
    """The id of the record that perturbation ``kind`` makes of record ``record_id``."""
    return f"{record_id}~{kind}"


def _check_edits(record: Record, edits: list[Edit]) -> None:
    for edit in edits:
        if not 0 <= edit.start <= edit.end <= len(record.text):
            raise EditError(f"record {record.id!r}: edit [{edit.start}, {edit.end}) lies outside the text of length {len(record.text)}")
    for left, right in zip(edits, edits[1:]):
        # Two insertions at one position would have no defined order.
        if left.end > right.start or left.start == left.end == right.start == right.end:
            raise EditError(
                f"record {record.id!r}: edits [{left.start}, {left.end}) and [{right.start}, {right.end}) overlap"
            )


def _is_before(edit: Edit, span: Span) -> bool:
    return edit.end <= span.start if edit.start < edit.end else edit.start <= span.start


def _is_after(edit: Edit, span: Span) -> bool:
    return edit.start >= span.end


def _move(span: Span, edits: list[Edit], text: str, record_id: str) -> Span:
    start_shift = end_shift = 0
    for edit in edits:
        shift = len(edit.replacement) - (edit.end - edit.start)
        if _is_before(edit, span):
            start_shift += shift
            end_shift += shift
        elif _is_after(edit, span):
            continue
        elif span.start <= edit.start and edit.end <= span.end:
            end_shift += shift
        else:
            raise EditError(
                f"record {record_id!r}: edit [{edit.start}, {edit.end}) partially overlaps span "
                f"{span.text!r} [{span.start}, {span.end})"
            )
    start, end = span.start + start_shift, span.end + end_shift
    if start >= end:
        raise EditError(f"record {record_id!r}: the edits delete span {span.text!r} [{span.start}, {span.end})")
    return Span(start, end, text[start:end])


def apply_edits(record: Record, edits: list[Edit], new_id: str) -> Record:
    """A copy of ``record`` named ``new_id`` with ``edits`` applied to its text and every span moved.

    Task, dataset, split, and the frames, slots and their types keep their order; only the spans
    change.  Raises :class:`EditError` (naming the record and the ranges) when edits overlap or
    an edit cuts through a span; the result is validated (:meth:`Record.validate`).
    """
    edits = sorted(edits)
    _check_edits(record, edits)
    pieces, position = [], 0
    for edit in edits:
        pieces += [record.text[position : edit.start], edit.replacement]
        position = edit.end
    text = "".join(pieces) + record.text[position:]

    def move(span: Span | None) -> Span | None:
        return None if span is None else _move(span, edits, text, record.id)

    frames = [
        Frame(
            type=frame.type,
            filler=move(frame.filler),
            slots=tuple(replace(slot, filler=move(slot.filler)) for slot in frame.slots),
        )
        for frame in record.frames
    ]
    perturbed = replace(record, id=new_id, text=text, frames=frames)
    perturbed.validate()
    return perturbed
