"""Turn one configured dataset split into unified records: read, cap, sample.

The dataset's ``format`` picks the reader: ``unified`` (JSONL records already in the unified
format, e.g. the embedded demo corpus) or one of the converters of :mod:`ucuie.data.convert`.
Training splits are capped at ``max_train_per_dataset`` records (paper: 10,000) by a seeded
sample; low-resource training sets (paper Table 2: 1%, 5%, 10%) are seeded samples of the capped
training split.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ucuie.data.convert import Problem, convert, splits_available
from ucuie.records import DatasetSchema, Record, read_records, read_schema, write_records, write_schema


@dataclass
class PreparedSplit:
    records: list[Record]
    schema: DatasetSchema
    problems: list[Problem] = field(default_factory=list)


def _read_unified(source: Path, dataset: str, split: str) -> PreparedSplit:
    records = read_records(source / f"{split}.jsonl")
    schema_path = source / "schema.json"
    schema = read_schema(schema_path) if schema_path.is_file() else DatasetSchema.from_records(dataset, records[0].task if records else "ner", records)
    for record in records:
        record.dataset, record.split = dataset, split
    return PreparedSplit(records, schema)


def _existing(source: str | Path, dataset: str) -> Path:
    source = Path(source)
    if not source.exists():
        raise FileNotFoundError(f"dataset {dataset!r}: folder {source} does not exist; set data.datasets.{dataset}.path in the config")
    return source


def read_split(fmt: str, source: str | Path, dataset: str, split: str, task: str | None = None) -> PreparedSplit:
    """Read ``split`` of ``dataset`` from ``source`` in format ``fmt`` as unified records."""
    source = _existing(source, dataset)
    if fmt == "unified":
        return _read_unified(source, dataset, split)
    conversion = convert(fmt, source, dataset, split, task)
    return PreparedSplit(conversion.records, conversion.schema, conversion.problems)


def sample(records: Sequence[Record], size: int, seed: int) -> list[Record]:
    """A seeded sample of ``size`` records, kept in their original order (all when fewer)."""
    if size >= len(records):
        return list(records)
    chosen = sorted(random.Random(seed).sample(range(len(records)), size))
    return [records[i] for i in chosen]


def low_resource_sample(records: Sequence[Record], fraction: float, seed: int) -> list[Record]:
    """``fraction`` of the training records (at least one), sampled with ``seed``."""
    if not 0 < fraction <= 1:
        raise ValueError(f"a low-resource fraction must be in (0, 1], not {fraction}")
    return sample(records, max(1, round(fraction * len(records))), seed)


SPLITS = ("train", "dev", "test")


def prepare_dataset(
    name: str,
    fmt: str,
    source: str | Path,
    task: str | None,
    splits: Sequence[str],
    max_train: int,
    seed: int,
    out_dir: str | Path,
) -> dict[str, int]:
    """Write ``{out_dir}/{split}.jsonl`` for train/dev/test, ``schema.json`` and ``problems.txt``.

    Splits not in ``splits`` (held-out datasets keep only ``test``) or not published by the
    dataset (WNUT-16 has only ``train``) are written empty, so every dataset has the same files;
    a missing split that was asked for is listed among the problems.  The schema is the union over the splits read.  Returns the
    record count per split.
    """
    out_dir = Path(out_dir)
    counts: dict[str, int] = {}
    problems: list[str] = []
    schema: DatasetSchema | None = None
    source = _existing(source, name)
    available = [s for s in SPLITS if (source / f"{s}.jsonl").is_file()] if fmt == "unified" else splits_available(fmt, source)
    for split in SPLITS:
        records: list[Record] = []
        if split in splits and split not in available:
            problems.append(f"{source}: dataset {name!r} has no {split} split (found: {', '.join(available) or 'none'}); written empty")
        elif split in splits:
            prepared = read_split(fmt, source, name, split, task)
            records = prepared.records
            problems += [str(problem) for problem in prepared.problems]
            schema = prepared.schema if schema is None else _union(schema, prepared.schema)
            if split == "train" and len(records) > max_train:
                print(f"{name}: capping train from {len(records)} to {max_train} records (seed {seed})")
                records = sample(records, max_train, seed)
        counts[split] = write_records(out_dir / f"{split}.jsonl", records)
        print(f"{name}/{split}: {counts[split]} records")
    if schema is None:
        raise ValueError(f"dataset {name!r}: no split was read (asked for {list(splits)})")
    schema.dataset = name
    write_schema(out_dir / "schema.json", schema)
    (out_dir / "problems.txt").write_text("".join(p + "\n" for p in problems), encoding="utf-8")
    for problem in problems:
        print(f"problem: {problem}")
    print(f"{name}: {len(problems)} problems (listed in {out_dir / 'problems.txt'})")
    return counts


def _union(a: DatasetSchema, b: DatasetSchema) -> DatasetSchema:
    """Frame types of both schemas; slot types keep ``a``'s order, then ``b``'s new ones."""
    frames = {ft: list(dict.fromkeys([*a.frames.get(ft, []), *b.frames.get(ft, [])])) for ft in sorted(set(a.frames) | set(b.frames))}
    return DatasetSchema(dataset=a.dataset, task=a.task, frames=frames)
