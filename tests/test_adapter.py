"""The hierarchical MoE adapter: fused == reference loop, routing, generation, aux losses, save/load."""

from __future__ import annotations

import copy
import json

import pytest
import torch
from torch import nn
from transformers import LlamaConfig, LlamaForCausalLM

from ucuie import cli
from ucuie.adapter import (
    AdapterConfigError,
    AdapterError,
    HierarchicalMoEConfig,
    RoutingError,
    adapter_layers,
    adapter_parameters,
    attach_adapter,
    capability_label_tensor,
    collect_aux_losses,
    force_capabilities,
    load_adapter,
    record_routing_weights,
    routing,
    save_adapter,
)
from ucuie.adapter.reference import use_reference_layers
from ucuie.tasks import CAPABILITIES

VOCAB = 128
PAD = 0
TASKS = ["ner", "re", "judging"]


def tiny_llama(dtype=torch.float64) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=VOCAB, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, pad_token_id=PAD, bos_token_id=1, eos_token_id=2,
    )
    return LlamaForCausalLM(config).to(dtype).eval()


def randomise(model: nn.Module, seed: int = 1) -> nn.Module:
    """Non-zero up-projections and routers, so every expert changes the output."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in adapter_parameters(model).values():
            param.copy_(torch.randn(param.shape, generator=generator, dtype=param.dtype) * 0.3)
    return model


def adapted(config: HierarchicalMoEConfig, dtype=torch.float64) -> LlamaForCausalLM:
    return randomise(attach_adapter(tiny_llama(dtype), config))


def prompts() -> list[tuple[list[int], list[int]]]:
    """Three prompts of different lengths: (token ids, instruction mask)."""
    generator = torch.Generator().manual_seed(7)
    out = []
    for length, instruction in ((7, (1, 4)), (10, (0, 6)), (12, (2, 5))):
        ids = torch.randint(3, VOCAB, (length,), generator=generator).tolist()
        mask = [1 if instruction[0] <= t < instruction[1] else 0 for t in range(length)]
        out.append((ids, mask))
    return out


def left_pad(items: list[tuple[list[int], list[int]]]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    width = max(len(ids) for ids, _ in items)
    ids = torch.tensor([[PAD] * (width - len(i)) + i for i, _ in items])
    attention = torch.tensor([[0] * (width - len(i)) + [1] * len(i) for i, _ in items])
    instruction = torch.tensor([[0] * (width - len(i)) + m for i, m in items])
    return ids, attention, instruction


def batch():
    ids, attention, instruction = left_pad(prompts())
    return ids, attention, instruction, capability_label_tensor(TASKS)


def forward_backward(model: nn.Module, forced: tuple[str, ...] | None = None, seed: int = 3, backward: bool = True):
    """Logits and aux losses of one training-like step; leaves the adapter gradients on the model."""
    ids, attention, instruction, labels = batch()
    weights = torch.randn(ids.shape + (VOCAB,), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    model.zero_grad()
    torch.manual_seed(seed)  # the same dropout masks in both models
    with routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
        with force_capabilities(model, forced) if forced is not None else _nothing():
            logits = model(input_ids=ids, attention_mask=attention).logits
            aux = collect_aux_losses(model)
        if backward:
            ((logits * weights * attention[..., None]).sum() + aux.bce + aux.entropy).backward()
    return logits.detach(), aux


class _nothing:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


FUSED_CASES = {
    "soft": (HierarchicalMoEConfig(), None),
    "hard": (HierarchicalMoEConfig(routing="hard"), None),
    "forced": (HierarchicalMoEConfig(), ("judging", "associating")),
    "no_shared": (HierarchicalMoEConfig(shared_expert=False), None),
    "flat_moe": (HierarchicalMoEConfig(routing="flat", capability_experts=(), sub_experts=6), None),
    "single_lora": (HierarchicalMoEConfig(capability_experts=()), None),
    "q1_two_capabilities": (HierarchicalMoEConfig(sub_experts=1, capability_experts=("locating", "associating")), None),
    "dropout": (HierarchicalMoEConfig(dropout=0.2), None),
}


@pytest.mark.parametrize("case", list(FUSED_CASES))
def test_fused_layer_matches_reference_loop_in_outputs_and_all_gradients(case):
    config, forced = FUSED_CASES[case]
    fused = adapted(config)
    reference = use_reference_layers(copy.deepcopy(fused))
    if config.dropout:
        fused.train(), reference.train()
    fused_logits, fused_aux = forward_backward(fused, forced)
    reference_logits, reference_aux = forward_backward(reference, forced)
    torch.testing.assert_close(fused_logits, reference_logits, rtol=1e-10, atol=1e-10)
    for name in ("bce", "entropy"):
        torch.testing.assert_close(getattr(fused_aux, name), getattr(reference_aux, name), rtol=1e-10, atol=1e-12)
    checked = 0
    for (name, fused_layer), (_, reference_layer) in zip(adapter_layers(fused), adapter_layers(reference), strict=True):
        for param_name, grad in reference_layer.fused_layout(grad=True).items():
            fused_grad = fused_layer.get_parameter(param_name).grad
            torch.testing.assert_close(fused_grad, grad, rtol=1e-10, atol=1e-12, msg=f"{name}.{param_name}")
            checked += 1
    assert checked == sum(1 for _ in adapter_parameters(fused))


@pytest.mark.parametrize("case", list(FUSED_CASES))
def test_fused_layer_without_autograd_matches_reference_and_follows_parameter_changes(case):
    # Without autograd (generation, evaluation) the fused layer computes the down-projection and
    # the routers in separate matmuls; any change of the parameters must show in the output.
    config, forced = FUSED_CASES[case]
    fused = adapted(config)
    reference = use_reference_layers(copy.deepcopy(fused))

    def logits(model):
        with torch.no_grad():
            return forward_backward(model, forced, backward=False)[0]

    torch.testing.assert_close(logits(fused), logits(reference), rtol=1e-10, atol=1e-10)
    before = logits(fused)
    randomise(fused, seed=2)  # an in-place change, as an optimizer step or load_adapter makes
    after = logits(fused)
    assert not torch.allclose(after, before)
    torch.testing.assert_close(after, logits(use_reference_layers(copy.deepcopy(fused))), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("config", [HierarchicalMoEConfig(), HierarchicalMoEConfig(routing="hard"), HierarchicalMoEConfig(routing="flat", capability_experts=())])
def test_freshly_attached_adapter_leaves_logits_unchanged(config):
    ids, attention, instruction, labels = batch()
    base = tiny_llama()
    with torch.no_grad():
        expected = base(input_ids=ids, attention_mask=attention).logits
        model = attach_adapter(base, config)
        with routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
            got = model(input_ids=ids, attention_mask=attention).logits
    assert torch.equal(got, expected)


def test_only_adapter_parameters_train_and_the_base_stays_fixed():
    model = attach_adapter(tiny_llama(), HierarchicalMoEConfig())
    trainable = {name for name, param in model.named_parameters() if param.requires_grad}
    assert trainable == set(adapter_parameters(model))
    before = {name: param.clone() for name, param in model.named_parameters() if not param.requires_grad}
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    ids, attention, instruction, labels = batch()
    with routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
        model(input_ids=ids, attention_mask=attention, labels=ids).loss.backward()
    optimizer.step()
    assert all(torch.equal(param, before[name]) for name, param in model.named_parameters() if name in before)
    assert any(not torch.equal(param, torch.zeros_like(param)) for name, param in adapter_parameters(model).items() if name.endswith("lora_up"))


def test_single_lora_baseline_has_the_parameter_count_of_peft_lora():
    from peft import LoraConfig, get_peft_model

    ours = attach_adapter(tiny_llama(), HierarchicalMoEConfig(capability_experts=()))
    peft_model = get_peft_model(tiny_llama(), LoraConfig(r=4, lora_alpha=8, target_modules=["gate_proj", "up_proj", "down_proj"]))
    ours_count = sum(p.numel() for p in ours.parameters() if p.requires_grad)
    assert ours_count == sum(p.numel() for p in peft_model.parameters() if p.requires_grad)


def test_save_and_load_give_identical_logits_on_a_fresh_base(tmp_path):
    ids, attention, instruction, labels = batch()
    model = adapted(HierarchicalMoEConfig(sub_experts=3, routing="soft"))
    save_adapter(model, tmp_path / "adapter")
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["sub_experts"] == 3
    loaded = load_adapter(tiny_llama(), tmp_path / "adapter")
    with torch.no_grad():
        outputs = []
        for m in (model, loaded):
            with routing(m, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
                outputs.append(m(input_ids=ids, attention_mask=attention).logits)
    assert torch.equal(outputs[0], outputs[1])
    assert not torch.equal(outputs[0], tiny_llama()(input_ids=ids, attention_mask=attention).logits)


def test_loading_onto_another_shape_names_the_weight(tmp_path):
    save_adapter(adapted(HierarchicalMoEConfig()), tmp_path / "adapter")
    other = LlamaForCausalLM(LlamaConfig(vocab_size=VOCAB, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=2))
    with pytest.raises(AdapterError, match="model.layers.0.mlp.gate_proj.lora_down"):
        load_adapter(other, tmp_path / "adapter")


def test_a_hard_routing_adapter_starts_from_a_soft_one_without_its_task_routers(tmp_path):
    soft = adapted(HierarchicalMoEConfig(routing="soft"))
    for name, param in adapter_parameters(soft).items():
        param.data.normal_()  # trained-looking weights, so that copying them shows
    save_adapter(soft, tmp_path / "soft")
    hard = load_adapter(tiny_llama(), tmp_path / "soft", HierarchicalMoEConfig(routing="hard"))
    soft_params, hard_params = adapter_parameters(soft), adapter_parameters(hard)
    assert not any(".task_router." in name for name in hard_params)
    assert set(soft_params) - set(hard_params) == {name for name in soft_params if ".task_router." in name}
    assert all(torch.equal(param, soft_params[name]) for name, param in hard_params.items())
    # Hard routing with labels [1, 1, 1] equals the soft adapter with every capability forced on.
    ids, attention, instruction, _ = batch()
    labels = torch.ones(ids.shape[0], 3)
    with torch.no_grad():
        with routing(hard, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
            hard_logits = hard(input_ids=ids, attention_mask=attention).logits
        with routing(soft, instruction_mask=instruction, attention_mask=attention), force_capabilities(soft, list(CAPABILITIES)):
            soft_logits = soft(input_ids=ids, attention_mask=attention).logits
    assert torch.allclose(hard_logits, soft_logits)
    # Anything but the task routers must fit.
    with pytest.raises(AdapterError, match="lora_down"):
        load_adapter(tiny_llama(), tmp_path / "soft", HierarchicalMoEConfig(routing="hard", rank=2))


def generate(model, ids, attention, instruction, labels, use_cache=True):
    with torch.no_grad(), routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
        out = model.generate(
            input_ids=ids, attention_mask=attention, max_new_tokens=6, min_new_tokens=6, do_sample=False,
            use_cache=use_cache, pad_token_id=PAD, eos_token_id=2,
        )
    return out[:, ids.shape[1] :]


def test_greedy_generation_with_kv_cache_equals_generation_without_it():
    model = adapted(HierarchicalMoEConfig())
    ids, attention, instruction, labels = batch()
    cached = generate(model, ids, attention, instruction, labels, use_cache=True)
    uncached = generate(model, ids, attention, instruction, labels, use_cache=False)
    assert torch.equal(cached, uncached)
    # Decode steps must reuse the prefill gates: gates from the new token alone change the output.
    with force_capabilities(model, ("associating",)):
        forced = generate(model, ids, attention, instruction, labels)
    assert not torch.equal(forced, cached)


@pytest.mark.parametrize("config", [HierarchicalMoEConfig(), HierarchicalMoEConfig(routing="hard")])
def test_mixed_task_batch_generates_what_each_sample_generates_alone(config):
    model = adapted(config)
    items = prompts()
    ids, attention, instruction, labels = batch()
    together = generate(model, ids, attention, instruction, labels)
    for row, (sample_ids, mask) in enumerate(items):
        alone = generate(model, torch.tensor([sample_ids]), torch.ones(1, len(sample_ids), dtype=torch.long), torch.tensor([mask]), labels[row : row + 1])
        assert torch.equal(together[row], alone[0]), f"sample {row}"


def test_left_padding_is_not_averaged_into_the_task_router_input():
    model = adapted(HierarchicalMoEConfig())
    ids, attention, instruction, labels = batch()
    gates = {}
    for name, mask in (("instruction", instruction), ("instruction_and_padding", instruction | (1 - attention))):
        with torch.no_grad(), routing(model, instruction_mask=mask, attention_mask=attention) as context:
            model(input_ids=ids, attention_mask=attention)
            gates[name] = context.task_gates["model.layers.0.mlp.gate_proj"]
    # Row 2 is the longest prompt (no padding); rows 0 and 1 are padded.
    assert torch.equal(gates["instruction"][2], gates["instruction_and_padding"][2])
    assert not torch.allclose(gates["instruction"][0], gates["instruction_and_padding"][0])


class TwoLinears(nn.Module):
    def __init__(self):
        super().__init__()
        self.first = nn.Linear(4, 6)
        self.second = nn.Linear(6, 4)

    def forward(self, x):
        return self.second(torch.tanh(self.first(x)))


def test_aux_losses_and_routing_records_match_a_hand_computation():
    torch.manual_seed(0)
    config = HierarchicalMoEConfig(sub_experts=2, target_modules=("first", "second"))
    model = randomise(attach_adapter(TwoLinears().double(), config))
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    instruction = torch.tensor([[1, 1, 0], [0, 1, 0]])
    attention = torch.tensor([[1, 1, 1], [0, 1, 1]])
    labels = capability_label_tensor(["ner", "associating"]).double()
    inputs = {}
    for name, layer in adapter_layers(model):
        layer.register_forward_hook(lambda module, args, output, name=name: inputs.__setitem__(name, args[0].detach()))
    with record_routing_weights(model) as record, routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
        model(x)
        aux = collect_aux_losses(model)

    bce, entropy, gate_sums = [], [], torch.zeros(3, dtype=torch.float64)
    for name, layer in adapter_layers(model):
        h = inputs[name]
        pooled = torch.stack([h[0, :2].mean(0), h[1, 1]])
        gate = torch.sigmoid(pooled @ layer.task_router.weight.T + layer.task_router.bias)
        gate_sums += gate.mean(0)
        bce.append(-(labels * gate.log() + (1 - labels) * (1 - gate).log()).sum(1).mean())
        real = torch.stack([h[0, 0], h[0, 1], h[0, 2], h[1, 1], h[1, 2]])
        terms = 0.0
        for group, capability in enumerate(("judging", "locating", "associating")):
            rows = slice(2 * group, 2 * group + 2)
            weights = torch.softmax(real @ layer.token_router.weight[rows].T + layer.token_router.bias[rows], dim=-1)
            load = weights.mean(0)
            terms = terms + (load * load.log()).sum()
            assert record.mean_weights()[name][capability] == pytest.approx(load.tolist(), abs=1e-12)
        entropy.append(terms)
    torch.testing.assert_close(aux.bce, torch.stack(bce).mean())
    torch.testing.assert_close(aux.entropy, torch.stack(entropy).mean())
    assert list(aux.task_gates.values()) == pytest.approx((gate_sums / 2).tolist())
    assert set(aux.as_floats()) == {"bce", "entropy", "task_gate/judging", "task_gate/locating", "task_gate/associating"}
    # Base layers with a bias, and input of any batch shape: still the reference's function.
    reference = use_reference_layers(copy.deepcopy(model))
    with torch.no_grad():
        outputs = []
        for m in (model, reference):
            with routing(m, instruction_mask=instruction, attention_mask=attention, capability_labels=labels):
                outputs.append(m(x))
    torch.testing.assert_close(outputs[0], outputs[1], rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("architecture", ["qwen2", "mistral"])
def test_other_llama_style_architectures_attach_and_generate_consistently(architecture):
    from transformers import MistralConfig, MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM

    config_class, model_class = {"qwen2": (Qwen2Config, Qwen2ForCausalLM), "mistral": (MistralConfig, MistralForCausalLM)}[architecture]
    torch.manual_seed(0)
    shape = {"vocab_size": VOCAB, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}
    base = model_class(config_class(**shape, pad_token_id=PAD)).double().eval()
    ids, attention, instruction, labels = batch()
    with torch.no_grad():
        expected = base(input_ids=ids, attention_mask=attention).logits
    model = attach_adapter(base, HierarchicalMoEConfig())
    assert len(list(adapter_layers(model))) == 6
    with torch.no_grad(), routing(model, instruction_mask=instruction, attention_mask=attention):
        assert torch.equal(model(input_ids=ids, attention_mask=attention).logits, expected)
    randomise(model)
    cached = generate(model, ids, attention, instruction, labels, use_cache=True)
    assert torch.equal(cached, generate(model, ids, attention, instruction, labels, use_cache=False))


def test_forcing_leaves_switched_off_experts_out_of_entropy_and_gradients():
    model = adapted(HierarchicalMoEConfig())
    with record_routing_weights(model) as record:
        _, aux = forward_backward(model, forced=("locating",))
    rank, experts = 4, 4
    assert aux.bce == 0  # the task router does not run while gates are forced
    locating_loads = [torch.tensor(weights["locating"]) for weights in record.mean_weights().values()]
    expected_entropy = torch.stack([(load * load.log()).sum() for load in locating_loads]).mean()
    torch.testing.assert_close(aux.entropy.detach(), expected_entropy.to(aux.entropy.dtype))
    for name, layer in adapter_layers(model):
        down, up, router = layer.lora_down.grad, layer.lora_up.grad, layer.token_router.weight.grad
        shared, judging, locating, associating = (slice(0, rank),) + tuple(slice(rank + g * experts * rank, rank + (g + 1) * experts * rank) for g in range(3))
        for blocks in (judging, associating):
            assert torch.count_nonzero(down[blocks]) == 0 and torch.count_nonzero(up[blocks]) == 0, name
        for blocks in (shared, locating):
            assert torch.count_nonzero(up[blocks]) > 0, name
        assert torch.count_nonzero(router[experts : 2 * experts]) > 0
        assert torch.count_nonzero(router[:experts]) == 0 and torch.count_nonzero(router[2 * experts :]) == 0
        assert layer.task_router.weight.grad is None or torch.count_nonzero(layer.task_router.weight.grad) == 0


def test_hard_routing_equals_forcing_the_same_capability_experts():
    hard = adapted(HierarchicalMoEConfig(routing="hard"))
    soft = attach_adapter(tiny_llama(), HierarchicalMoEConfig())
    with torch.no_grad():
        for name, param in adapter_parameters(hard).items():
            soft.get_parameter(name).copy_(param)
    ids, attention, instruction, labels = batch()
    with torch.no_grad(), routing(hard, capability_labels=labels):
        hard_logits = hard(input_ids=ids, attention_mask=attention).logits
    for row, task in enumerate(TASKS):
        needed = [c for c, on in zip(("judging", "locating", "associating"), labels[row]) if on]
        with torch.no_grad(), force_capabilities(soft, needed):
            forced = soft(input_ids=ids[row : row + 1], attention_mask=attention[row : row + 1]).logits
        real = attention[row].bool()
        torch.testing.assert_close(hard_logits[row, real], forced[0, real], rtol=1e-10, atol=1e-10, msg=task)


def test_gradient_checkpointing_gives_the_same_gradients():
    plain = adapted(HierarchicalMoEConfig())
    checkpointed = copy.deepcopy(plain)
    checkpointed.activation_checkpointing_enable()
    plain.train(), checkpointed.train()
    grads, calls = [], []
    for model in (plain, checkpointed):
        layer = model.get_submodule("model.layers.1.mlp.up_proj")
        count = []
        handle = layer.register_forward_hook(lambda *args: count.append(1))
        forward_backward(model)
        handle.remove()
        calls.append(len(count))
        grads.append({name: param.grad.clone() for name, param in adapter_parameters(model).items()})
    assert calls == [1, 2]  # the checkpointed layer really ran again during backward()
    for name in grads[0]:
        torch.testing.assert_close(grads[0][name], grads[1][name], rtol=1e-10, atol=1e-12, msg=name)


def test_routing_errors_say_what_is_missing():
    model = adapted(HierarchicalMoEConfig())
    ids, attention, instruction, labels = batch()
    with pytest.raises(RoutingError, match="instruction mask"):
        model(input_ids=ids)
    empty = instruction.clone()
    empty[1] = 0
    with pytest.raises(RoutingError, match="row 1"):
        with routing(model, instruction_mask=empty):
            pass
    hard = adapted(HierarchicalMoEConfig(routing="hard"))
    with pytest.raises(RoutingError, match="capability labels"), routing(hard, instruction_mask=instruction):
        hard(input_ids=ids)
    with pytest.raises(AdapterError, match="'writing'"):
        with force_capabilities(model, ("writing",)):
            pass
    # Beam search expands the batch behind the masks' back: refused, not silently misrouted.
    with pytest.raises(RoutingError, match="capability_labels has batch size 3"), torch.no_grad(), routing(hard, capability_labels=labels):
        hard.generate(input_ids=ids, attention_mask=attention, max_new_tokens=2, num_beams=2, pad_token_id=PAD)


def test_a_target_pattern_that_matches_nothing_is_named_with_example_modules():
    with pytest.raises(AdapterError, match=r"'mlp\.gate_prj'.*model\.layers\.0\.self_attn\.q_proj"):
        attach_adapter(tiny_llama(), HierarchicalMoEConfig(target_modules=("mlp.gate_prj",)))


def test_config_round_trips_through_json_and_names_bad_keys():
    config = HierarchicalMoEConfig(rank=8, sub_experts=7, capability_experts=("judging",), shared_expert=False)
    assert HierarchicalMoEConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(AdapterConfigError, match="'rnak'"):
        HierarchicalMoEConfig.from_dict({"rnak": 4})
    with pytest.raises(AdapterConfigError, match="'capability_experts'"):
        HierarchicalMoEConfig(routing="flat")
    with pytest.raises(AdapterConfigError, match="'routing'"):
        HierarchicalMoEConfig(routing="sparse")


def test_count_params_reproduces_the_papers_llama_2_7b_figures(capsys):
    assert cli.main(["count-params", "--shape", "llama-2-7b"]) == 0
    lines = capsys.readouterr().out.split()
    assert lines == ["base_params=6738415616", "trainable_params=84616608", "trainable_percent=1.240"]


def test_count_params_tiny_shape_counts_the_attached_adapter(capsys):
    assert cli.main(["count-params", "--shape", "tiny"]) == 0
    counts = dict(line.split("=") for line in capsys.readouterr().out.split())
    model = attach_adapter(LlamaForCausalLM(LlamaConfig(vocab_size=128, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2)), HierarchicalMoEConfig())
    assert int(counts["trainable_params"]) == sum(p.numel() for p in adapter_parameters(model).values())


def test_bench_adapter_runs_every_variant_side_by_side_and_ends_with_the_ratio(tmp_path, capsys):
    # A benchmark, not a timing test: it must run every variant and report their ratios.
    argv = ["bench-adapter", "--tiny", "--rounds", "1", "--steps", "1", "--batch", "2", "--seq", "16"]
    argv += ["--gen-batch", "2", "--prompt-len", "8", "--new-tokens", "3", "--json", str(tmp_path / "bench.json")]
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines[1:5]] == ["lora", "lora-wide", "fused", "reference"]
    report = json.loads((tmp_path / "bench.json").read_text())
    summary, (timing,) = report["summary"], report["runs"]["timing"]
    assert summary["lora"]["train_step_s_over_lora"] == 1.0
    # One round: the ratio is that round's pair, timed in one process.
    assert summary["fused"]["train_step_s_over_lora"] == pytest.approx(timing["fused"]["train_step_s"] / timing["lora"]["train_step_s"])
    assert lines[-1] == f"fused_over_lora_train_step={summary['fused']['train_step_s_over_lora']:.3f}"
    assert all(summary[v]["peak_mib"] > 0 and summary[v]["generate_tokens_per_s"] > 0 for v in summary)
    # lora-wide: PEFT LoRA at the adapter's total rank (1 shared + 3 x 4 sub-experts of r = 4).
    memory = report["runs"]["memory"]
    assert memory["lora-wide"]["trainable_params"] == 13 * memory["lora"]["trainable_params"]


def test_bench_adapter_builds_a_named_shape_with_chosen_layers_in_bf16(tmp_path, capsys):
    # The GPU benchmark's model (LLaMA-2-7B shape, a few layers, bf16) is built the same way; here
    # the SmolLM2 shape with one layer on the CPU: both variants, base and adapter all bf16.
    argv = ["bench-adapter", "--shape", "smollm2-135m", "--layers", "1", "--dtype", "bfloat16", "--rounds", "1", "--steps", "1"]
    argv += ["--batch", "1", "--seq", "8", "--gen-batch", "1", "--prompt-len", "4", "--new-tokens", "2", "--json", str(tmp_path / "bench.json")]
    assert cli.main(argv) == 0
    runs = json.loads((tmp_path / "bench.json").read_text())["runs"]
    assert sorted(runs["memory"]) == ["fused", "lora"]
    for run in runs["memory"].values():
        assert run["layers"] == 1 and run["dtypes"] == ["bfloat16"] and run["memory"] == "rss"
    (timing,) = runs["timing"]
    assert sorted(timing) == ["fused", "lora"]


def test_bench_adapter_refuses_layers_without_a_shape():
    with pytest.raises(SystemExit, match="--layers goes with --shape"):
        cli.main(["bench-adapter", "--tiny", "--layers", "2"])
