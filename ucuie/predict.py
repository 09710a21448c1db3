"""Batched greedy generation of linearized outputs for instances.

Instances are grouped by task (each task has its own bound on new tokens) and sorted by prompt
length inside each group, so a batch wastes little on padding; prompts are left-padded, the KV
cache is used, and generation stops at end-of-sequence.  Each prediction is saved with the
instruction that produced it.

A model with the hierarchical MoE adapter attached runs every batch inside
:func:`ucuie.adapter.routing` with the prompts' instruction masks (the task router reads them at
prefill, Eq. 3) and the batch task's capability labels (gates of hard routing); ``capabilities``
fixes the capability experts that are switched on instead (Tables 5 and 6).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import torch
from tqdm import tqdm

from ucuie.adapter.analysis import force_capabilities
from ucuie.adapter.context import STATE_ATTRIBUTE, capability_label_tensor, routing
from ucuie.prompts import Instance, encode_prompt


@dataclass
class Prediction:
    id: str
    dataset: str
    task: str
    instruction: str
    output: str

    def to_json(self) -> dict:
        return asdict(self)


def _batches(instances: Sequence[Instance], lengths: Sequence[int], batch_size: int):
    by_task: dict[str, list[int]] = {}
    for index, instance in enumerate(instances):
        by_task.setdefault(instance.task, []).append(index)
    for task in sorted(by_task):
        order = sorted(by_task[task], key=lambda i: (lengths[i], instances[i].id))
        for start in range(0, len(order), batch_size):
            yield task, order[start : start + batch_size]


@torch.no_grad()
def predict(
    model,
    tokenizer,
    instances: Sequence[Instance],
    batch_size: int,
    max_new_tokens: Mapping[str, int],
    capabilities: Sequence[str] | None = None,
) -> list[Prediction]:
    """Greedy outputs for ``instances``, returned in the order given.

    ``max_new_tokens`` bounds the output per task (a missing task is an error naming it);
    ``capabilities`` (adapter models only) switches on exactly those capability experts.
    """
    missing = sorted({instance.task for instance in instances} - set(max_new_tokens))
    if missing:
        raise ValueError(f"no max_new_tokens bound for task {missing[0]!r} (bounds given for: {', '.join(sorted(max_new_tokens))})")
    adapted = hasattr(model, STATE_ATTRIBUTE)
    if capabilities is not None and not adapted:
        raise ValueError("capabilities can only be forced on a model with the hierarchical MoE adapter attached")
    model.eval()
    encoded = [encode_prompt(tokenizer, instance) for instance in instances]
    lengths = [len(e.input_ids) for e in encoded]
    outputs: dict[int, str] = {}
    pad = tokenizer.pad_token_id
    progress = tqdm(total=len(instances), desc="predicting", unit="instance")
    for task, indices in _batches(instances, lengths, batch_size):
        width = max(lengths[i] for i in indices)
        input_ids = torch.tensor([[pad] * (width - lengths[i]) + encoded[i].input_ids for i in indices])
        attention_mask = torch.tensor([[0] * (width - lengths[i]) + [1] * lengths[i] for i in indices])
        with contextlib.ExitStack() as routed:
            if adapted:
                instruction_mask = torch.tensor([[0] * (width - lengths[i]) + encoded[i].instruction_mask for i in indices])
                labels = capability_label_tensor([task] * len(indices))
                routed.enter_context(routing(model, instruction_mask=instruction_mask, attention_mask=attention_mask, capability_labels=labels))
                if capabilities is not None:
                    routed.enter_context(force_capabilities(model, capabilities))
            generated = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                do_sample=False,
                max_new_tokens=max_new_tokens[task],
                pad_token_id=pad,
                eos_token_id=tokenizer.eos_token_id,
            )
        texts = tokenizer.batch_decode(generated[:, width:], skip_special_tokens=True)
        for i, text in zip(indices, texts):
            outputs[i] = text.strip()
        progress.update(len(indices))
    progress.close()
    return [
        Prediction(id=inst.id, dataset=inst.dataset, task=inst.task, instruction=inst.instruction, output=outputs[i])
        for i, inst in enumerate(instances)
    ]
