"""The embedded demo corpus: determinism, valid records, schemas, splits that measure generalisation."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from ucuie.config import ConfigError
from ucuie.data.demo import DemoConfig, demo_dataset_names, generate_demo, load_corpus, write_demo
from ucuie.records import read_records, read_schema
from ucuie.tasks import ABSA, EE, NER, RE

SMALL = DemoConfig(seed=5, train_per_dataset=30, dev_per_dataset=6, test_per_dataset=9, zero_shot_test_size=7)


@pytest.fixture(scope="module")
def corpus():
    return load_corpus()


@pytest.fixture(scope="module")
def demo(corpus):
    return generate_demo(DemoConfig(), corpus)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_gives_identical_files_and_another_seed_differs(tmp_path):
    first = write_demo(SMALL, tmp_path / "a")
    write_demo(SMALL, tmp_path / "b")
    write_demo(replace(SMALL, seed=6), tmp_path / "c")
    a, b, c = (_files(tmp_path / name) for name in "abc")
    assert a == b
    assert a.keys() == c.keys() and a != c
    assert sorted(str(p.relative_to(tmp_path / "a")) for p in first) == sorted(a)


def test_written_files_read_back(tmp_path):
    write_demo(SMALL, tmp_path)
    for dataset in generate_demo(SMALL):
        assert read_schema(tmp_path / dataset.name / "schema.json") == dataset.schema
        for split, records in dataset.splits.items():
            assert [r.to_json() for r in read_records(tmp_path / dataset.name / f"{split}.jsonl")] == [r.to_json() for r in records]


def test_dataset_lineup(demo):
    assert demo_dataset_names() == [d.name for d in demo]
    by_task: dict[str, list] = {}
    for dataset in demo:
        by_task.setdefault(dataset.task, []).append(dataset)
    for task in (NER, RE, EE):
        seen = [d for d in by_task[task] if not d.held_out]
        assert len(seen) >= 2, f"{task} needs several training datasets"
        schemas = [frozenset(d.schema.frames) for d in seen]
        assert len(set(schemas)) == len(schemas), f"{task} training datasets must have different schemas"
    assert all(d.held_out for d in by_task[ABSA]), "ABSA is an unseen task"
    assert any(d.held_out for d in by_task[NER]) and any(d.held_out for d in by_task[RE] + by_task[EE])


def test_sizes_follow_the_config():
    for dataset in generate_demo(SMALL):
        if dataset.held_out:
            assert {k: len(v) for k, v in dataset.splits.items()} == {"test": 7}
        else:
            assert {k: len(v) for k, v in dataset.splits.items()} == {"train": 30, "dev": 6, "test": 9}


def test_records_are_valid_and_fit_the_schema(demo):
    for dataset in demo:
        for split, records in dataset.splits.items():
            for index, record in enumerate(records):
                record.validate()
                assert record.id == f"{dataset.name}-{split}-{index}"
                assert (record.task, record.dataset, record.split) == (dataset.task, dataset.name, split)
                positions = []
                for frame in record.frames:
                    assert frame.type in dataset.schema.frames
                    assert {slot.type for slot in frame.slots} <= set(dataset.schema.frames[frame.type])
                    spans = [frame.filler] if frame.filler else []
                    spans += [slot.filler for slot in frame.slots]
                    positions.append(min(span.start for span in spans))
                    if dataset.task == NER:
                        assert frame.filler is not None and not frame.slots
                    elif dataset.task == EE:
                        assert frame.filler is not None and all(s.filler_type is None for s in frame.slots)
                    else:
                        assert frame.filler is None
                        expected = ("subject", "object") if dataset.task == RE else ("aspect", "opinion")
                        assert tuple(slot.type for slot in frame.slots) == expected
                        assert all((slot.filler_type is not None) == (dataset.task == RE) for slot in frame.slots)
                assert positions == sorted(positions), record.id


def test_held_out_types_and_absa_never_reach_training(demo):
    training_types = {f.type for d in demo if not d.held_out for r in d.splits["train"] for f in r.frames}
    for dataset in demo:
        if dataset.held_out:
            assert list(dataset.splits) == ["test"]
            assert not set(dataset.schema.frames) & training_types, dataset.name
        else:
            assert dataset.task != ABSA
            assert set(dataset.splits) == {"train", "dev", "test"}


def test_test_templates_are_disjoint_from_training_templates(demo, corpus):
    definitions = {d.name: d for d in corpus.datasets}
    for dataset in demo:
        used = {split: {t for ids in dataset.template_ids[split] for t in ids} for split in dataset.splits}
        test_templates = {t.id for t in definitions[dataset.name].templates if t.for_test}
        assert used["test"] <= test_templates
        for split in ("train", "dev"):
            if split in used:
                assert used[split] and not used[split] & test_templates, (dataset.name, split)


def test_every_frame_type_has_train_and_test_templates(corpus):
    for definition in corpus.datasets:
        if definition.held_out:
            continue
        for for_test in (False, True):
            produced = set()
            for template in definition.templates:
                if template.for_test == for_test:
                    produced |= {template.frame} if template.frame else {p.lexicon for p in template.parts if getattr(p, "role", None)}
            assert produced - {None} == set(definition.schema), (definition.name, for_test)


def test_texts_hold_several_frames_or_none(demo):
    for dataset in demo:
        counts = [len(r.frames) for records in dataset.splits.values() for r in records]
        assert 0 in counts and max(counts) >= 3, dataset.name
        assert sum(c >= 2 for c in counts) > len(counts) / 4, dataset.name


def test_no_text_repeats_within_a_dataset(demo):
    for dataset in demo:
        texts = [r.text for records in dataset.splits.values() for r in records]
        assert len(set(texts)) == len(texts), dataset.name


def test_out_of_schema_entities_appear_unannotated(demo, corpus):
    """Distractors: words of lexicons outside an NER schema occur in the texts without annotation."""
    definitions = {d.name: d for d in corpus.datasets}
    for dataset in demo:
        if dataset.task != NER:
            continue
        distractor_lexicons = {
            p.lexicon for t in definitions[dataset.name].templates for p in t.parts if getattr(p, "role", "") is None and p.lexicon
        }
        words = {w for name in distractor_lexicons for w in corpus.lexicons.entries[name] if "{" not in w}
        found = 0
        for record in (r for records in dataset.splits.values() for r in records):
            annotated = [(span.start, span.end) for span in record.spans()]
            for word in words:
                start = record.text.find(word)
                if start >= 0 and not any(s <= start < e for s, e in annotated):
                    found += 1
        assert found >= 10, dataset.name


def test_test_only_lexicon_entries_never_reach_training(demo, corpus):
    lexicons = corpus.lexicons
    unseen_in_test = 0
    for dataset in demo:
        if dataset.task != NER or dataset.held_out:
            continue
        for frame_type in dataset.schema.frames:
            entries = lexicons.entries[frame_type]
            if any("{" in e for e in entries):
                continue
            test_only = {e.lower() for e in entries} - {e.lower() for e in lexicons.training_entries(frame_type)}
            assert test_only
            for split, records in dataset.splits.items():
                mentions = {f.filler.text.lower() for r in records for f in r.frames if f.type == frame_type}
                if split == "test":
                    unseen_in_test += len(mentions & test_only)
                else:
                    assert not mentions & test_only, (dataset.name, split)
    assert unseen_in_test > 0


def test_unknown_config_key_is_named():
    with pytest.raises(ConfigError, match="'train_size'"):
        DemoConfig.from_dict({"train_size": 10})
    with pytest.raises(ConfigError, match="'dev_per_dataset'"):
        DemoConfig.from_dict({"dev_per_dataset": -1})
    assert DemoConfig.from_dict(None) == DemoConfig()
    assert DemoConfig.from_dict({"train_per_dataset": 5}).train_per_dataset == 5


def test_corpus_check_rejects_an_unannotated_schema_entity(tmp_path):
    bad = tmp_path / "corpus.yaml"
    bad.write_text(
        "connectors: [', ']\n"
        "lexicons: {city: [Lisbon], location: ['{city}']}\n"
        "datasets:\n"
        "  places: {task: ner, domain: news, held_out: false, schema: {location: []},\n"
        "           clauses: ['{location:*} is far from {city}']}\n"
    )
    with pytest.raises(ValueError, match="places.*clause 0.*city"):
        load_corpus(bad)
