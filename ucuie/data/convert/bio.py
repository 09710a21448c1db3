"""CoNLL-style BIO files (CoNLL-2003, WNUT-16) as NER records.

``{split}.txt`` holds one ``token<TAB>tag`` line per token (any whitespace separates the fields;
the first is the token, the last the tag) and a blank or whitespace-only line between sentences.
Tags are IOB2: ``O``, ``B-type``, ``I-type``.  A sentence's text is its tokens joined by single
spaces, so every entity's offsets follow from its token positions.

Entities are decoded like seqeval's default (non-strict) mode: an ``I-type`` continues an entity
only right after ``B-type`` or ``I-type`` of the same type; otherwise it starts a new entity, as
if it were ``B-type``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

from ucuie.data.convert.common import Conversion, Problem, TokenText, dataset_schema, split_file
from ucuie.records import Frame, Record
from ucuie.tasks import NER

TASK = NER
FILE = "{split}.txt"
_TAG = re.compile(r"([BI])-(.+)")


def entity_chunks(tags: list[str]) -> list[tuple[str, int, int]]:
    """The entities of an IOB2 tag sequence as ``(type, first token, end token exclusive)``."""
    chunks = []
    current: tuple[str, int] | None = None
    for i, tag in enumerate([*tags, "O"]):
        prefix, entity_type = _tag_parts(tag)
        if prefix == "I" and current is not None and current[0] == entity_type:
            continue
        if current is not None:
            chunks.append((current[0], current[1], i))
        current = None if prefix == "O" else (entity_type, i)
    return chunks


def _tag_parts(tag: str) -> tuple[str, str | None]:
    if tag == "O":
        return "O", None
    match = _TAG.fullmatch(tag)
    if match is None:
        raise ValueError(f"tag {tag!r} is not IOB2 (O, B-type or I-type)")
    return match.group(1), match.group(2)


def _sentence_record(tokens: list[str], tags: list[str], record_id: str, dataset: str, split: str) -> Record:
    """One NER record: the tokens joined by spaces, one entity frame per IOB2 chunk."""
    text = TokenText(tokens)
    frames = [Frame(type=entity_type, filler=text.span(first, end)) for entity_type, first, end in entity_chunks(tags)]
    return Record(id=record_id, text=text.text, task=NER, dataset=dataset, split=split, frames=frames)


def records_from_bio(sentences: list[list[tuple[str, str]]], dataset: str, split: str) -> list[Record]:
    """NER records from sentences given as ``[(token, tag), ...]``; ids are ``{dataset}-{split}-{index}``."""
    return [
        _sentence_record([token for token, _ in sentence], [tag for _, tag in sentence], f"{dataset}-{split}-{i}", dataset, split)
        for i, sentence in enumerate(sentences)
    ]


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Read ``source/{split}.txt``; a malformed line is reported and its sentence skipped."""
    path = split_file(source, FILE, split)
    records: list[Record] = []
    problems: list[Problem] = []
    for index, block in enumerate(_sentence_blocks(path)):
        errors = [(lineno, error) for lineno, fields in block if (error := _line_error(fields))]
        if errors:
            lineno, error = errors[0]
            problems.append(Problem(str(path), lineno, f"{error}; sentence skipped"))
            continue
        tokens = [fields[0] for _, fields in block]
        if tokens != ["-DOCSTART-"]:  # document separators of the original CoNLL-2003 files
            tags = [fields[-1] for _, fields in block]
            records.append(_sentence_record(tokens, tags, f"{dataset}-{split}-{index}", dataset, split))
    return Conversion(records=records, schema=dataset_schema(dataset, NER, records), problems=problems)


def _sentence_blocks(path: Path) -> Iterator[list[tuple[int, list[str]]]]:
    """The sentences of a BIO file, each as its ``(line number, fields)`` pairs."""
    block: list[tuple[int, list[str]]] = []
    with path.open(encoding="utf-8") as lines:
        for lineno, line in enumerate(lines, start=1):
            fields = line.split()
            if fields:
                block.append((lineno, fields))
            elif block:
                yield block
                block = []
    if block:
        yield block


def _line_error(fields: list[str]) -> str | None:
    if len(fields) < 2:
        return f"line {' '.join(fields)!r} has no tag (expected a token and a tag)"
    try:
        _tag_parts(fields[-1])
    except ValueError as exc:
        return str(exc)
    return None
