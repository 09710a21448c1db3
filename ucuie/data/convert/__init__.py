"""Converters from published IE datasets to unified records, and the ``ucuie convert`` subcommand.

One module per source format (see docs/data.md for every rule they follow):

===================  ======  =====================================================
format               task    files read in the dataset folder
===================  ======  =====================================================
``conll_bio``        ner     ``{split}.txt`` (token, IOB2 tag)
``spert``            re      ``{split}_triples.json`` (+ ``rel2idx.json``)
``phee``             ee      ``{split}.json`` (JSON lines)
``casie``            ee      ``annotation/*.json`` (split by article id)
``aste``             absa    ``{split}_triplets.txt`` (ASTE-Data-V2)
``ie_instructions``  any     ``{split}.json`` + ``labels.json`` (task from the folder)
===================  ======  =====================================================

Usage: ``ucuie convert --format F --source DIR --dataset NAME --split S --out FILE.jsonl
[--schema-out FILE.json]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

from ucuie.data.convert import aste, bio, casie, ie_instructions, phee, spert
from ucuie.data.convert.common import Conversion, ConversionError, Problem, splits_in
from ucuie.records import write_records, write_schema

__all__ = ["FORMATS", "Conversion", "ConversionError", "Problem", "convert", "splits_available"]

_MODULES: dict[str, ModuleType] = {
    "conll_bio": bio,
    "spert": spert,
    "phee": phee,
    "casie": casie,
    "aste": aste,
    "ie_instructions": ie_instructions,
}
#: format -> the task its records have (``None``: given by the caller or the dataset's folder).
FORMATS: dict[str, str | None] = {name: module.TASK for name, module in _MODULES.items()}


def _module(format: str) -> ModuleType:
    try:
        return _MODULES[format]
    except KeyError:
        raise ConversionError(f"unknown data format {format!r}; expected one of {', '.join(FORMATS)}") from None


def convert(format: str, source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Convert ``split`` of the dataset in folder ``source`` (published in ``format``) to records.

    ``task`` is only needed for ``ie_instructions`` datasets outside a NER/RE/EE/EET/EEA folder;
    for the other formats it must agree with the format's task if given.
    """
    module = _module(format)
    fixed = FORMATS[format]
    if task is not None and fixed is not None and task.lower() != fixed:
        raise ConversionError(f"format {format!r} holds {fixed} data, not {task}; drop the task or fix the format")
    return module.convert(Path(source), dataset, split, task)


def splits_available(format: str, source: Path) -> list[str]:
    """The splits that ``source`` holds in ``format``, train/dev/test first."""
    module = _module(format)
    own = getattr(module, "splits_available", None)  # CASIE and IE INSTRUCTIONS name their splits themselves
    return own(Path(source)) if own is not None else splits_in(Path(source), module.FILE)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``ucuie convert``."""
    parser.add_argument("--format", required=True, choices=list(FORMATS), help="the published format of the source")
    parser.add_argument("--source", required=True, type=Path, help="the dataset folder")
    parser.add_argument("--dataset", required=True, help="the dataset name written into every record")
    parser.add_argument("--split", required=True, help="train, dev or test (any split the source holds)")
    parser.add_argument("--task", help="ie_instructions only: NER, RE, EE, EET or EEA (default: the source's parent folder name)")
    parser.add_argument("--out", required=True, type=Path, help="the JSONL file of unified records to write")
    parser.add_argument("--schema-out", type=Path, help="also write the dataset's frame-and-slots schema here")


def run(args: argparse.Namespace) -> int:
    """Convert one split; print the count and every problem to stderr; 1 if no record could be read."""
    try:
        conversion = convert(args.format, args.source, args.dataset, args.split, args.task)
    except (ConversionError, OSError) as exc:
        print(f"ucuie convert: {exc}", file=sys.stderr)
        return 1
    for problem in conversion.problems:
        print(problem, file=sys.stderr)
    if not conversion.records:
        print(f"ucuie convert: no record could be read from {args.source} (split {args.split}); nothing written", file=sys.stderr)
        return 1
    count = write_records(args.out, conversion.records)
    if args.schema_out is not None:
        write_schema(args.schema_out, conversion.schema)
    print(f"{count} records of {args.dataset}/{args.split} written to {args.out} ({len(conversion.problems)} problems)", file=sys.stderr)
    return 0
