"""Training/evaluation instances and the prompt builder.

An *instance* is a record with the instruction sampled for it from the task's paraphrase pool
(seeded per record id, so the choice does not depend on file order) and its target string::

    <instruction>
    Schema: {FT1: [ST1, ST2], FT2: []}
    Text: <text>
    [<hint>]
    Answer:

The optional *hint* is further input after the text: the associating sub-task
(:mod:`ucuie.subtasks`) shows the frame types and typed spans to be linked there; other
instances have none and no hint line.  The hint belongs to the input X, not to the instruction.

The instruction and the schema line form the *task instruction* I of the paper (Z = [I; X]); the
task router of the adapter averages the layer input over exactly those tokens (Eq. 3), so
:func:`encode_prompt` tokenises the two parts separately and returns a mask that marks them.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields

from ucuie.linearize import format_schema, linearize
from ucuie.records import DatasetSchema, Record


@dataclass
class Instance:
    """One prompt-target pair, with the instruction it was built with (and an optional hint)."""

    id: str
    dataset: str
    task: str
    instruction: str
    schema: str
    text: str
    target: str
    hint: str = ""  # extra input lines after the text (associating sub-task); "" for none

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, obj: dict) -> Instance:
        """Read an instance; a field with a default (``hint``) may be absent, as in older files."""
        return cls(**{f.name: obj[f.name] for f in fields(cls) if f.name in obj or f.default is MISSING})


def task_instruction(instance: Instance) -> str:
    """The part of the prompt the task router reads: the instruction and the schema."""
    return f"{instance.instruction}\nSchema: {instance.schema}\n"


def text_part(instance: Instance) -> str:
    """The part of the prompt that carries the input: the text, then the hint if there is one."""
    hint = f"{instance.hint}\n" if instance.hint else ""
    return f"Text: {instance.text}\n{hint}Answer:"


def _rng_for(record_id: str, seed: int) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{record_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def build_instances(records: Sequence[Record], schema: DatasetSchema, pool: Sequence[str], seed: int) -> list[Instance]:
    """One instance per record, each with an instruction drawn from ``pool`` (seeded per record id)."""
    if not pool:
        raise ValueError(f"the instruction pool for task {schema.task!r} is empty")
    schema_text = format_schema(schema.frames)
    return [
        Instance(
            id=record.id,
            dataset=record.dataset,
            task=record.task,
            instruction=_rng_for(record.id, seed).choice(list(pool)),
            schema=schema_text,
            text=record.text,
            target=linearize(record.frames),
        )
        for record in records
    ]


@dataclass
class EncodedPrompt:
    """Token ids of a prompt (and optionally its target) with the task-instruction mask."""

    input_ids: list[int]
    instruction_mask: list[int]  # 1 on instruction+schema tokens, 0 elsewhere
    labels: list[int] | None = None  # -100 on prompt tokens: the loss covers the target only


def encode_prompt(tokenizer, instance: Instance, with_target: bool = False) -> EncodedPrompt:
    """Tokenise ``instance``; with ``with_target`` also append the target and end-of-sequence."""
    head = [tokenizer.bos_token_id] if tokenizer.bos_token_id is not None and getattr(tokenizer, "add_bos_token", False) else []
    instruction_ids = tokenizer(task_instruction(instance), add_special_tokens=False)["input_ids"]
    text_ids = tokenizer(text_part(instance), add_special_tokens=False)["input_ids"]
    input_ids = head + instruction_ids + text_ids
    mask = [0] * len(head) + [1] * len(instruction_ids) + [0] * len(text_ids)
    if not with_target:
        return EncodedPrompt(input_ids=input_ids, instruction_mask=mask)
    target_ids = tokenizer(" " + instance.target, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return EncodedPrompt(
        input_ids=input_ids + target_ids,
        instruction_mask=mask + [0] * len(target_ids),
        labels=[-100] * len(input_ids) + target_ids,
    )
