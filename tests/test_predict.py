"""Batched greedy prediction, with and without the hierarchical MoE adapter."""

from __future__ import annotations

import pytest
import torch

from ucuie.adapter import HierarchicalMoEConfig, adapter_parameters, attach_adapter
from ucuie.backbone import load_backbone
from ucuie.predict import predict
from ucuie.prompts import Instance

BOUNDS = {"ner": 5, "re": 4}


def instances() -> list[Instance]:
    texts = ["Ann met Bo.", "A much longer sentence about Carla Diaz and the Acme company in Lyon.", "Short.", "Dan works for Initech in Paris since May."]
    out = []
    for i, text in enumerate(texts):
        task = "ner" if i % 2 == 0 else "re"
        instruction = "Find the entities." if task == "ner" else "Find the relations between subjects and objects in this text."
        out.append(Instance(id=f"s{i}", dataset="toy", task=task, instruction=instruction, schema="{person: [], org: []}", text=text, target="{}"))
    return out


def adapted_model(tiny_backbone, config: HierarchicalMoEConfig):
    model, tokenizer = load_backbone(tiny_backbone, "float64")
    attach_adapter(model, config)
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype))
    return model, tokenizer


@pytest.mark.parametrize("routing", ["soft", "hard"])
def test_adapter_predictions_do_not_depend_on_batching(tiny_backbone, routing):
    model, tokenizer = adapted_model(tiny_backbone, HierarchicalMoEConfig(routing=routing))
    batched = predict(model, tokenizer, instances(), batch_size=4, max_new_tokens=BOUNDS)
    alone = predict(model, tokenizer, instances(), batch_size=1, max_new_tokens=BOUNDS)
    assert [p.id for p in batched] == ["s0", "s1", "s2", "s3"]
    assert [p.output for p in batched] == [p.output for p in alone]
    assert all(p.instruction == i.instruction for p, i in zip(batched, instances()))


def test_forcing_capabilities_changes_what_the_adapter_generates(tiny_backbone):
    model, tokenizer = adapted_model(tiny_backbone, HierarchicalMoEConfig())
    routed = [p.output for p in predict(model, tokenizer, instances(), 4, BOUNDS)]
    forced = [p.output for p in predict(model, tokenizer, instances(), 4, BOUNDS, capabilities=["associating"])]
    assert routed != forced
    base, tokenizer = load_backbone(tiny_backbone, "float64")
    with pytest.raises(ValueError, match="hierarchical MoE adapter"):
        predict(base, tokenizer, instances(), 4, BOUNDS, capabilities=["judging"])


def test_a_task_without_a_token_bound_is_named(tiny_backbone):
    model, tokenizer = load_backbone(tiny_backbone)
    with pytest.raises(ValueError, match="'re'"):
        predict(model, tokenizer, instances(), 4, {"ner": 4})
