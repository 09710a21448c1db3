"""Converters on the published datasets beside the project: the counts of ../shared/data/SOURCES.md.

Skipped when that folder (or ``$UCUIE_SHARED_DATA``) is absent.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from conftest import shared_data_dir

from ucuie.data.convert import convert, splits_available
from ucuie.data.convert.casie import article_split

DATA = shared_data_dir()


def source(folder: str) -> Path:
    path = DATA / folder
    if not path.is_dir():
        pytest.skip(f"{path} is absent")
    return path


def convert_all(fmt: str, folder: str) -> dict:
    """Every split of a dataset, each checked: records validate, carry their split, ids are unique."""
    conversions = {}
    for split in splits_available(fmt, source(folder)):
        conversion = convert(fmt, source(folder), folder, split)
        for record in conversion.records:
            record.validate()
            assert (record.dataset, record.split) == (folder, split)
        assert len({r.id for r in conversion.records}) == len(conversion.records)
        conversions[split] = conversion
    return conversions


def frame_counts(conversions: dict) -> dict[str, int]:
    return {split: sum(len(r.frames) for r in c.records) for split, c in conversions.items()}


def record_counts(conversions: dict) -> dict[str, int]:
    return {split: len(c.records) for split, c in conversions.items()}


def test_conll2003():
    conversions = convert_all("conll_bio", "conll2003")
    assert record_counts(conversions) == {"train": 14041, "dev": 3250, "test": 3453}
    assert frame_counts(conversions) == {"train": 23429, "dev": 5938, "test": 5628}
    assert all(c.problems == [] for c in conversions.values())
    assert sorted(conversions["test"].schema.frames) == ["location", "misc", "organisation", "person"]


def test_wnut16():
    conversions = convert_all("conll_bio", "wnut16")
    assert record_counts(conversions) == {"train": 2394}
    assert frame_counts(conversions) == {"train": 1496}
    assert len(conversions["train"].schema.frames) == 10 and conversions["train"].problems == []


def test_conll04():
    conversions = convert_all("spert", "conll04")
    assert record_counts(conversions) == {"train": 922, "dev": 231, "test": 288}
    assert frame_counts(conversions) == {"train": 1283, "dev": 343, "test": 422}
    relation_types = json.loads((source("conll04") / "rel2idx.json").read_text())
    entity_types = json.loads((source("conll04") / "ner2idx.json").read_text())
    for conversion in conversions.values():
        assert conversion.problems == []
        assert conversion.schema.frames == {t: ["object", "subject"] for t in sorted(relation_types)}
        assert {s.filler_type for r in conversion.records for f in r.frames for s in f.slots} <= set(entity_types)


def test_phee():
    conversions = convert_all("phee", "phee")
    assert record_counts(conversions) == {"train": 2898, "dev": 961, "test": 968}
    assert frame_counts(conversions) == {"train": 3006, "dev": 1003, "test": 1010}
    schema = conversions["train"].schema.frames
    assert sorted(schema) == ["Adverse_event", "Potential_therapeutic_event"]
    assert {"Subject", "Treatment", "Effect", "Treatment.Drug", "Subject.Disorder", "Treatment.Disorder"} <= set(schema["Adverse_event"])
    assert all(c.problems == [] for c in conversions.values())


def test_casie():
    conversions = convert_all("casie", "casie")
    assert list(conversions) == ["train", "dev", "test"]
    lost_triggers = [p for c in conversions.values() for p in c.problems if p.message.endswith("event left out")]
    # 8485 event mentions: one trigger ("been leaked." in 464.json) runs past the end of its
    # truncated article and is reported; every other one is converted
    assert sum(frame_counts(conversions).values()) + len(lost_triggers) == 8485
    assert [p.file.rsplit("/", 1)[-1] for p in lost_triggers] == ["464.json"]
    schema = conversions["test"].schema.frames
    assert len(schema) == 5 and len({role for roles in schema.values() for role in roles}) == 26
    assert all(c.schema.frames == schema for c in conversions.values())
    articles = {split: {r.id.split("-")[2] for r in c.records} for split, c in conversions.items()}
    assert sum(len(a) for a in articles.values()) == 1000
    assert all(article_split(a) == split for split, ids in articles.items() for a in ids)
    # 32 articles have all their offsets shifted (by 1, 2 or 12 characters): one report each, recovered
    assert sum("moved to the nearest occurrence" in p.message for c in conversions.values() for p in c.problems) == 32


def test_aste_14lap():
    conversions = convert_all("aste", "aste-14lap")
    assert record_counts(conversions) == {"train": 906, "dev": 219, "test": 328}
    assert frame_counts(conversions) == {"train": 1460, "dev": 346, "test": 543}
    polarities = Counter(f.type for c in conversions.values() for r in c.records for f in r.frames)
    assert polarities == {"positive": 1350, "negative": 774, "neutral": 225}
    assert all(c.problems == [] for c in conversions.values())
