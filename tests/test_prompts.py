"""Instances and the prompt builder: seeded instruction choice, exact instruction-token mask."""

from __future__ import annotations

import random

import pytest

from ucuie.backbone import load_backbone
from ucuie.instructions import base_instructions
from ucuie.linearize import format_schema, linearize
from ucuie.prompts import build_instances, encode_prompt, task_instruction, text_part
from ucuie.records import DatasetSchema, Frame, Record, Slot, span_at

TEXT = "Barack Obama delivered a speech at Columbia University."


def _record(index: int) -> Record:
    return Record(
        id=f"news-test-{index}",
        text=TEXT,
        task="ee",
        dataset="news",
        split="test",
        frames=[Frame("Speech", span_at(TEXT, 13, 22), (Slot("Speaker", span_at(TEXT, 0, 12)), Slot("Place", span_at(TEXT, 35, 54))))],
    )


SCHEMA = DatasetSchema("news", "ee", {"Speech": ["Place", "Speaker", "Time"]})


def test_instances_sample_instructions_per_record_id_not_order():
    records = [_record(i) for i in range(60)]
    pool = base_instructions("ee")
    instances = build_instances(records, SCHEMA, pool, seed=3)
    chosen = {inst.id: inst.instruction for inst in instances}
    assert set(chosen.values()) == set(pool)  # 60 draws from 3 instructions use them all
    shuffled = records[:]
    random.Random(0).shuffle(shuffled)
    assert {inst.id: inst.instruction for inst in build_instances(shuffled, SCHEMA, pool, seed=3)} == chosen
    other = {inst.id: inst.instruction for inst in build_instances(records, SCHEMA, pool, seed=4)}
    assert other != chosen
    first = instances[0]
    assert first.schema == format_schema(SCHEMA.frames)
    assert first.target == linearize(records[0].frames)
    assert first.target == "{(Speech: delivered): [(Speaker: Barack Obama), (Place: Columbia University)]}"


def test_empty_pool_is_an_error():
    with pytest.raises(ValueError, match="instruction pool for task 'ee' is empty"):
        build_instances([_record(0)], SCHEMA, [], seed=0)


def test_instruction_mask_covers_exactly_instruction_and_schema(tiny_backbone):
    _, tokenizer = load_backbone(tiny_backbone)
    instance = build_instances([_record(0)], SCHEMA, base_instructions("ee"), seed=0)[0]
    encoded = encode_prompt(tokenizer, instance)
    assert len(encoded.input_ids) == len(encoded.instruction_mask)
    masked = [t for t, m in zip(encoded.input_ids, encoded.instruction_mask) if m]
    unmasked = [t for t, m in zip(encoded.input_ids, encoded.instruction_mask) if not m]
    assert tokenizer.decode(masked) == task_instruction(instance)
    assert tokenizer.decode(unmasked) == text_part(instance)
    # the mask is one contiguous block at the start
    assert encoded.instruction_mask == sorted(encoded.instruction_mask, reverse=True)

    with_target = encode_prompt(tokenizer, instance, with_target=True)
    n_prompt = len(encoded.input_ids)
    assert with_target.input_ids[:n_prompt] == encoded.input_ids
    assert with_target.labels[:n_prompt] == [-100] * n_prompt
    target_ids = with_target.labels[n_prompt:]
    assert target_ids[-1] == tokenizer.eos_token_id
    assert tokenizer.decode(target_ids[:-1]) == " " + instance.target
    assert sum(with_target.instruction_mask) == sum(encoded.instruction_mask)
