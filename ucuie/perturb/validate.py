"""Validators: is a perturbed record still a correct annotation of its text?

:func:`check` returns the reasons to reject a perturbed record (empty: accept).  Each reason is
``"identifier: detail"`` (or the identifier alone), so rejections can be counted per identifier:

===================  =================================================================
span_mismatch        a span does not match the text at its offsets
structure_changed    frames, frame/slot types, filler types or filler presence differ
unchanged            the text is the original text
not_replaced         (replace) a replaced span kept its text (case ignored)
annotation_altered   a span that should stay has another text
context_altered      (replace) the text outside the replaced spans changed, or spans moved
original_altered     (extend) the original text is not found unchanged in the new text
annotation_moved     (extend) a span is not where the original text now is
new_surface_form     (extend) the added text holds an annotated surface form
triple_changed       (extend, RE) a (relation, subject, object) triple differs
word_count_changed   (typo, lowercase) another number of whitespace-separated words
===================  =================================================================

The same checks judge both backends: the llm backend's answers are rejected, never repaired.
"""

from __future__ import annotations

from ucuie.perturb.edits import Edit, EditError, apply_edits
from ucuie.perturb.kinds import CHANGE_CONTEXT, EXTEND_SENTENCE, REPLACE_TYPES, RULE_TYPES, TYPE_NAMES
from ucuie.perturb.lexicon import Lexicon
from ucuie.perturb.targets import annotated_spans
from ucuie.perturb.words import SurfaceForms, word_count
from ucuie.records import Record, RecordError
from ucuie.tasks import RE

REASONS = (
    "span_mismatch",
    "structure_changed",
    "unchanged",
    "not_replaced",
    "annotation_altered",
    "context_altered",
    "original_altered",
    "annotation_moved",
    "new_surface_form",
    "triple_changed",
    "word_count_changed",
)


def reason_identifier(reason: str) -> str:
    """The identifier of a reason string (the part before its first colon)."""
    return reason.split(":", 1)[0]


def _structure_difference(original: Record, perturbed: Record) -> str | None:
    for key in ("task", "dataset", "split"):
        if getattr(original, key) != getattr(perturbed, key):
            return f"{key} {getattr(original, key)!r} -> {getattr(perturbed, key)!r}"
    if len(original.frames) != len(perturbed.frames):
        return f"{len(original.frames)} frames -> {len(perturbed.frames)}"
    for index, (old, new) in enumerate(zip(original.frames, perturbed.frames)):
        shape = [(slot.type, slot.filler_type, slot.filler is None) for slot in old.slots]
        new_shape = [(slot.type, slot.filler_type, slot.filler is None) for slot in new.slots]
        if (old.type, old.filler is None, shape) != (new.type, new.filler is None, new_shape):
            return f"frame {index} ({old.type!r}) differs in type, filler or slots"
    return None


def _triples(record: Record) -> list[tuple]:
    return [(frame.type, tuple((slot.type, slot.filler.text) for slot in frame.slots if slot.filler is not None)) for frame in record.frames]


def _check_replaced(original: Record, perturbed: Record, kind: str) -> list[str]:
    reasons = []
    edits = set()
    for (old, key), (new, _) in zip(annotated_spans(original, kind), annotated_spans(perturbed, kind)):
        if key is not None:
            edits.add(Edit(old.start, old.end, new.text))
            if new.text.lower() == old.text.lower():
                reasons.append(f"not_replaced: {old.text!r} -> {new.text!r}")
        elif new.text != old.text:
            reasons.append(f"annotation_altered: {old.text!r} -> {new.text!r}")
    # Redo the replacement on the original: any other difference is outside the replaced spans.
    try:
        expected = apply_edits(original, list(edits), perturbed.id)
    except EditError as exc:
        return reasons + [f"context_altered: the replaced spans cannot be replaced consistently ({exc})"]
    if expected.text != perturbed.text or expected.frames != perturbed.frames:
        reasons.append("context_altered: the text outside the replaced spans, or a span's position, changed")
    return reasons


def _check_extension(original: Record, perturbed: Record, lexicon: Lexicon | None) -> list[str]:
    offset = perturbed.text.find(original.text)
    if offset < 0:
        return ["original_altered: the original text does not appear unchanged in the new text"]
    reasons = []
    before, after = perturbed.text[:offset], perturbed.text[offset + len(original.text) :]
    edits = [Edit(0, 0, before), Edit(len(original.text), len(original.text), after)]
    if apply_edits(original, [edit for edit in edits if edit.replacement], perturbed.id).frames != perturbed.frames:
        reasons.append("annotation_moved: a span does not follow the original text")
    for forms in [SurfaceForms(span.text for span in original.spans())] + ([lexicon.forms] if lexicon is not None else []):
        for added in (before, after):
            form = forms.find(added)
            if form is not None:
                reasons.append(f"new_surface_form: {form!r} in the added text")
    if original.task == RE and _triples(original) != _triples(perturbed):
        reasons.append("triple_changed: the (relation, subject, object) triples differ")
    return reasons


def check(original: Record, perturbed: Record, kind: str, lexicon: Lexicon | None = None) -> list[str]:
    """The reasons to reject ``perturbed`` as perturbation ``kind`` of ``original`` (empty: accept).

    ``lexicon`` (optional) adds its annotated surface forms to those an extension must not hold.
    """
    if kind not in TYPE_NAMES:
        raise ValueError(f"unknown perturbation type {kind!r}; expected one of {sorted(TYPE_NAMES)}")
    try:
        perturbed.validate()
    except RecordError as exc:
        return [f"span_mismatch: {exc}"]
    difference = _structure_difference(original, perturbed)
    if difference is not None:
        return [f"structure_changed: {difference}"]
    if perturbed.text == original.text:
        return ["unchanged"]
    reasons = []
    if kind in REPLACE_TYPES:
        reasons += _check_replaced(original, perturbed, kind)
    if kind in (CHANGE_CONTEXT, EXTEND_SENTENCE):
        for old, new in zip(original.spans(), perturbed.spans()):
            if old.text != new.text:
                reasons.append(f"annotation_altered: {old.text!r} -> {new.text!r}")
    if kind == EXTEND_SENTENCE:
        reasons += _check_extension(original, perturbed, lexicon)
    if kind in RULE_TYPES and word_count(original.text) != word_count(perturbed.text):
        reasons.append(f"word_count_changed: {word_count(original.text)} -> {word_count(perturbed.text)}")
    return list(dict.fromkeys(reasons))
