"""The training loop: target-only loss, batching, both stages, checkpoint/resume, sample losses."""

from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from ucuie.adapter import HierarchicalMoEConfig, adapter_layers, attach_adapter, load_adapter, routing, save_adapter
from ucuie.backbone import load_backbone
from ucuie.cli import main as cli_main
from ucuie.prompts import Instance
from ucuie.train import (
    TrainConfig,
    TrainConfigError,
    TrainingError,
    TrainingInterrupted,
    collate,
    encode_examples,
    padding_share,
    plan_batches,
    sample_losses,
    target_token_losses,
    train,
)

WORDS = "alpha beta gamma delta river stone market city north valley bright quiet".split()
SMALL = HierarchicalMoEConfig(sub_experts=2)


def make_instances(n: int, task: str = "ner", seed: int = 0, prefix: str = "s") -> list[Instance]:
    rng = random.Random(seed)
    instances = []
    for i in range(n):
        words = [rng.choice(WORDS) for _ in range(rng.randint(2, 14))]
        target = f"[person: {words[0].title()}]" if i % 2 else f"[place: {words[-1].title()}]"
        instances.append(Instance(f"{prefix}{i}", "toy", task, "List the entities.", "{person: [], place: []}", " ".join(words), target))
    return instances


def read_log(folder) -> list[dict[str, str]]:
    with (folder / "log.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def weights(folder) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "adapter_model.safetensors"))


def config(**overrides) -> TrainConfig:
    settings = {"lr": 1e-2, "epochs": 1, "batch_size": 2, "max_length": 128, "seed": 3, "log_every": 1, "checkpoint_every": None}
    return TrainConfig(**{**settings, **overrides})


# --- encoding, loss, batching -----------------------------------------------------------------


def test_collate_marks_padding_and_loss_covers_target_tokens_only(tiny_backbone):
    _, tokenizer = load_backbone(tiny_backbone)
    examples, _ = encode_examples(tokenizer, make_instances(3, seed=1), max_length=None)
    batch = collate(examples, tokenizer.pad_token_id)
    lengths = [len(e) for e in examples]
    assert len(set(lengths)) > 1  # the batch really is padded
    for row, example in enumerate(examples):
        n = len(example)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (batch["input_ids"].shape[1] - n)
        assert batch["instruction_mask"][row, n:].sum() == 0 and batch["instruction_mask"][row, :n].sum() > 0
        assert (batch["labels"][row, n:] == -100).all()
        prompt = example.labels.index(next(label for label in example.labels if label != -100))
        assert (batch["labels"][row, :prompt] == -100).all() and (batch["labels"][row, prompt:n] != -100).all()
    assert batch["capability_labels"].tolist() == [[1.0, 1.0, 0.0]] * 3  # NER -> judging + locating

    logits = torch.randn(*batch["input_ids"].shape, 50, requires_grad=True)
    labels = batch["labels"].clamp(max=49).masked_fill(batch["labels"] == -100, -100)
    sums, counts = target_token_losses(logits, labels)
    sums.sum().backward()
    predicts_target = torch.zeros_like(labels, dtype=torch.bool)
    predicts_target[:, :-1] = labels[:, 1:] != -100
    # Only positions whose next token is a target token receive a gradient.
    assert (logits.grad.abs().sum(-1) > 0).eq(predicts_target).all()
    for row in range(len(examples)):
        positions = predicts_target[row].nonzero().squeeze(1)
        expected = F.cross_entropy(logits[row, positions], labels[row, positions + 1], reduction="sum")
        assert torch.allclose(sums[row], expected) and counts[row] == len(positions)


def test_encode_examples_truncates_and_skips_lost_targets(tiny_backbone):
    _, tokenizer = load_backbone(tiny_backbone)
    instances = make_instances(6, seed=2)
    full, _ = encode_examples(tokenizer, instances, max_length=None)
    prompt_lengths = [e.labels.index(next(x for x in e.labels if x != -100)) for e in full]
    limit = sorted(len(e) for e in full)[2]  # half of the instances are longer
    examples, stats = encode_examples(tokenizer, instances, max_length=limit)
    assert stats.truncated == sum(len(e) > limit for e in full) > 0
    assert stats.dropped == [inst.id for inst, e, p in zip(instances, full, prompt_lengths) if p >= limit]
    assert all(len(e) <= limit for e in examples)


def test_plan_batches_is_replayable_complete_and_length_grouped():
    rng = random.Random(0)
    lengths = [rng.randint(10, 300) for _ in range(500)]
    plan = plan_batches(lengths, 8, seed=5, epoch=2)
    assert plan == plan_batches(lengths, 8, seed=5, epoch=2)
    assert plan != plan_batches(lengths, 8, seed=5, epoch=3) and plan != plan_batches(lengths, 8, seed=6, epoch=2)
    assert sorted(i for batch in plan for i in batch) == list(range(500))
    randomly = plan_batches(lengths, 8, seed=5, epoch=2, group_by_length=False)
    assert sorted(i for batch in randomly for i in batch) == list(range(500))
    grouped_share, random_share = padding_share(lengths, plan), padding_share(lengths, randomly)
    assert grouped_share < 0.05 < 0.3 < random_share
    tasks = [rng.choice(["judging", "locating", "associating"]) for _ in lengths]
    homogeneous = plan_batches(lengths, 8, seed=5, epoch=0, groups=tasks)
    assert all(len({tasks[i] for i in batch}) == 1 for batch in homogeneous)
    assert sorted(i for batch in homogeneous for i in batch) == list(range(500))


# --- training ---------------------------------------------------------------------------------


def test_training_lowers_the_task_loss_and_writes_outputs(tiny_backbone, tmp_path):
    instances = make_instances(8, seed=4)
    model, tokenizer = load_backbone(tiny_backbone)
    attach_adapter(model, SMALL)
    before = sample_losses(model, tokenizer, instances, batch_size=4)
    summary = train(tiny_backbone, instances, tmp_path, adapter_config=SMALL, config=config(epochs=None, max_steps=10, batch_size=4, lr=2e-2))
    trained, tokenizer = load_backbone(tiny_backbone)
    load_adapter(trained, tmp_path / "adapter")
    after = sample_losses(trained, tokenizer, instances, batch_size=4)
    # A random 32-wide model starts near ln(vocab); ten steps take every sample's loss clearly down.
    assert all(a < b for a, b in zip(after, before)) and sum(before) / 8 - sum(after) / 8 > 0.2

    rows = read_log(tmp_path)
    assert [int(r["step"]) for r in rows] == list(range(1, 11))
    assert float(rows[-1]["task_loss"]) < float(rows[0]["task_loss"])
    assert float(rows[0]["bce"]) > 0 and rows[0]["task_gate/judging"] != ""  # soft routing: L_bce trains the task router
    assert summary["steps"] == 10 and summary["trainable_parameters"] == sum(t.numel() for t in weights(tmp_path / "adapter").values())
    assert 0 < summary["padding_share"] < 0.5 and summary["tokens"] == int(rows[-1]["tokens"])
    assert json.loads((tmp_path / "summary.json").read_text())["final"]["task_loss"] == pytest.approx(float(rows[-1]["task_loss"]), rel=1e-5)
    assert not (tmp_path / "checkpoint").exists()


def test_sample_losses_batched_equals_one_by_one(tiny_backbone):
    model, tokenizer = load_backbone(tiny_backbone)
    torch.manual_seed(0)
    attach_adapter(model, SMALL)
    for _, layer in adapter_layers(model):
        torch.nn.init.normal_(layer.lora_up, std=0.5)  # a non-trivial adapter, soft routing
    instances = make_instances(5, seed=7)
    batched = sample_losses(model, tokenizer, instances, batch_size=3)
    single = sample_losses(model, tokenizer, instances, batch_size=1)
    assert batched == pytest.approx(single, abs=1e-5)
    assert len(set(round(x, 4) for x in batched)) == 5  # distinct values, so the order is checked
    examples, _ = encode_examples(tokenizer, instances[2:3], max_length=None)
    one = collate(examples, tokenizer.pad_token_id)
    with torch.no_grad(), routing(model, instruction_mask=one["instruction_mask"], attention_mask=one["attention_mask"], capability_labels=one["capability_labels"]):
        logits = model(input_ids=one["input_ids"]).logits
    target = one["labels"][0] != -100
    shifted = target[1:].nonzero().squeeze(1)
    expected = F.cross_entropy(logits[0, shifted], one["input_ids"][0, shifted + 1])
    assert batched[2] == pytest.approx(float(expected), abs=1e-5)


def resume_settings(**overrides) -> TrainConfig:
    # 10 instances, batch 2, 2 micro-batches per step: 5 micro-batches = 3 steps per epoch (the
    # last one short); 2 epochs = 6 steps.  Dropout, warmup, decay and weight decay all take part.
    return config(epochs=2, grad_accum=2, checkpoint_every=2, warmup_ratio=0.2, weight_decay=0.01, **overrides)


def test_killed_run_resumes_to_the_same_weights(tiny_backbone, tmp_path):
    instances = make_instances(10, seed=5)
    adapter = HierarchicalMoEConfig(sub_experts=2, dropout=0.1)
    straight = train(tiny_backbone, instances, tmp_path / "straight", adapter_config=adapter, config=resume_settings())
    assert straight["steps"] == 6

    killed = tmp_path / "killed"
    with pytest.raises(TrainingInterrupted):
        train(tiny_backbone, instances, killed, adapter_config=adapter, config=resume_settings(), stop_after_steps=5)
    state = json.loads((killed / "checkpoint" / "state.json").read_text())
    assert (state["step"], state["epoch"], state["batch"]) == (4, 1, 2)  # mid-epoch: 2 micro-batches of epoch 2 consumed
    assert [int(r["step"]) for r in read_log(killed)] == [1, 2, 3, 4, 5]
    resumed = train(tiny_backbone, instances, killed, adapter_config=adapter, config=resume_settings())

    assert resumed["resumed_from_step"] == 4 and resumed["steps"] == 6
    a, b = weights(tmp_path / "straight" / "adapter"), weights(killed / "adapter")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert (a["model.layers.0.mlp.up_proj.lora_up"] != 0).any()  # it did train
    rows, reference = read_log(killed), read_log(tmp_path / "straight")
    assert [int(r["step"]) for r in rows] == list(range(1, 7))  # no duplicate steps
    for row, ref in zip(rows, reference):
        assert {k: v for k, v in row.items() if k != "seconds"} == {k: v for k, v in ref.items() if k != "seconds"}
    assert resumed["tokens"] == straight["tokens"] and resumed["padding_share"] == straight["padding_share"]
    assert not (killed / "checkpoint").exists()


def test_sigkilled_process_resumes_to_the_same_weights(tiny_backbone, tmp_path):
    """A real kill: a `ucuie train` process is SIGKILLed once it has checkpointed, possibly mid-write."""
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(inst.to_json()) + "\n" for inst in make_instances(6, seed=13)))
    (tmp_path / "adapter.yaml").write_text("sub_experts: 2\n")
    out = tmp_path / "killed"
    settings = {"lr": 1e-2, "epochs": None, "max_steps": 16, "batch_size": 2, "max_length": 128, "seed": 3, "checkpoint_every": 1, "weight_decay": 0.01, "log_every": 1}
    command = [sys.executable, "-m", "ucuie.cli", "train", "--backbone", str(tiny_backbone), "--instances", str(data), "--out", str(out),
               "--adapter-config", str(tmp_path / "adapter.yaml"), "--set", *(f"{k}={json.dumps(v)}" for k, v in settings.items())]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if json.loads((out / "checkpoint" / "state.json").read_text())["step"] >= 2:
                    break
            except FileNotFoundError:  # not written yet, or renamed away for a moment
                pass
            time.sleep(0.02)
    finally:
        process.kill()
        process.wait()
    assert process.returncode == -9, "the training process ended before it could be killed"
    adapter = HierarchicalMoEConfig(sub_experts=2)
    resumed = train(tiny_backbone, [data], out, adapter_config=adapter, config=TrainConfig(**settings))
    straight = train(tiny_backbone, [data], tmp_path / "straight", adapter_config=adapter, config=TrainConfig(**settings))
    assert resumed["resumed_from_step"] >= 2 and resumed["steps"] == straight["steps"] == 16
    a, b = weights(tmp_path / "straight" / "adapter"), weights(out / "adapter")
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [int(r["step"]) for r in read_log(out)] == list(range(1, 17))


def test_log_trim_drops_steps_after_the_checkpoint_and_torn_rows(tmp_path):
    from ucuie.train import LOG_COLUMNS, _trim_log

    header = ",".join(LOG_COLUMNS)
    full = [",".join([str(step)] + ["1"] * (len(LOG_COLUMNS) - 1)) for step in (1, 2, 3, 2, 4, 5)]
    (tmp_path / "log.csv").write_text("\n".join([header, *full, "1,0.3"]) + "\n")  # a duplicate step 2, a torn last row
    _trim_log(tmp_path / "log.csv", last_step=4)
    assert [int(r["step"]) for r in read_log(tmp_path)] == [1, 2, 3, 4]


def test_resume_with_another_config_fails_unless_restarted(tiny_backbone, tmp_path):
    instances = make_instances(6, seed=6)
    with pytest.raises(TrainingInterrupted):
        train(tiny_backbone, instances, tmp_path, adapter_config=SMALL, config=config(checkpoint_every=1), stop_after_steps=2)
    with pytest.raises(TrainingError, match=rf"checkpoint {tmp_path / 'checkpoint'} .*train\.lr: 0\.01 -> 0\.02.*restart=True"):
        train(tiny_backbone, instances, tmp_path, adapter_config=SMALL, config=config(checkpoint_every=1, lr=2e-2))
    with pytest.raises(TrainingError, match=r"differs in: data"):
        train(tiny_backbone, instances[:5], tmp_path, adapter_config=SMALL, config=config(checkpoint_every=1))
    # log_every and checkpoint_every do not change the result: the checkpoint still resumes.
    summary = train(tiny_backbone, instances, tmp_path, adapter_config=SMALL, config=config(checkpoint_every=2, log_every=3))
    assert summary["resumed_from_step"] == 2
    summary = train(tiny_backbone, instances, tmp_path, adapter_config=SMALL, config=config(lr=2e-2), restart=True)
    assert summary["resumed_from_step"] is None
    assert [int(r["step"]) for r in read_log(tmp_path)] == [1, 2, 3]


def randomised_adapter(backbone, folder, adapter_config=None):
    """A saved adapter with non-zero up-projections, so that a moved row shows."""
    model, _ = load_backbone(backbone)
    torch.manual_seed(1)
    attach_adapter(model, adapter_config or SMALL)
    for _, layer in adapter_layers(model):
        torch.nn.init.normal_(layer.lora_up, std=0.1)
    save_adapter(model, folder)
    return weights(folder)


def expert_rows(tensor_name: str, capability: str, config=SMALL) -> slice:
    index, width = config.capability_experts.index(capability), config.sub_experts * config.rank
    if tensor_name.endswith(("lora_up", "lora_down")):
        return slice(config.rank + index * width, config.rank + (index + 1) * width)
    return slice(index * config.sub_experts, (index + 1) * config.sub_experts)


def expert_block(tensors: dict[str, torch.Tensor], capability: str) -> dict[str, torch.Tensor]:
    return {k: v[expert_rows(k, capability)] for k, v in tensors.items() if k.endswith(("lora_up", "lora_down", "token_router.weight", "token_router.bias"))}


def same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_warming_trains_only_the_forced_expert(tiny_backbone, tmp_path):
    init = randomised_adapter(tiny_backbone, tmp_path / "init")
    instances = make_instances(6, task="judging", seed=8)
    summary = train(tiny_backbone, instances, tmp_path / "warm", stage="warming", init_adapter=tmp_path / "init", config=config(epochs=None, max_steps=3, weight_decay=0.0))
    warmed = weights(tmp_path / "warm" / "adapter")
    for capability in ("locating", "associating"):
        assert same(expert_block(init, capability), expert_block(warmed, capability))
    assert not same(expert_block(init, "judging"), expert_block(warmed, "judging"))
    shared = "model.layers.1.mlp.down_proj.lora_up"
    assert not torch.equal(init[shared][: SMALL.rank], warmed[shared][: SMALL.rank])
    routers = [k for k in init if ".task_router." in k]
    assert routers and all(torch.equal(init[k], warmed[k]) for k in routers)  # frozen in warming
    assert summary["trainable_parameters"] == sum(v.numel() for k, v in init.items() if ".task_router." not in k)
    rows = read_log(tmp_path / "warm")
    assert all(float(r["bce"]) == 0 and r["task_gate/judging"] == "" and float(r["entropy"]) < 0 for r in rows)


def warm_two_steps(backbone, folder, init, isolate: bool) -> tuple[dict, dict]:
    """Adapter weights after step 1 (from its checkpoint) and after step 2 of a two-step warming run."""
    # Two samples of different capabilities, batch 1: step 1 trains one capability, step 2 the other.
    instances = make_instances(1, task="judging", seed=9, prefix="j") + make_instances(1, task="locating", seed=9, prefix="l")
    settings = config(batch_size=1, weight_decay=0.1, checkpoint_every=1, isolate_experts=isolate)
    with pytest.raises(TrainingInterrupted):
        train(backbone, instances, folder, stage="warming", init_adapter=init, config=settings, stop_after_steps=1)
    step1 = weights(folder / "checkpoint" / "adapter")
    train(backbone, instances, folder, stage="warming", init_adapter=init, config=settings)
    return step1, weights(folder / "adapter")


def test_warming_isolation_keeps_adamw_momentum_off_switched_off_experts(tiny_backbone, tmp_path):
    init = randomised_adapter(tiny_backbone, tmp_path / "init")
    step1, step2 = warm_two_steps(tiny_backbone, tmp_path / "isolated", tmp_path / "init", isolate=True)
    moved = [c for c in ("judging", "locating") if not same(expert_block(init, c), expert_block(step1, c))]
    assert len(moved) == 1  # step 1 moved exactly one capability expert, although weight decay is on
    first, second = moved[0], "locating" if moved == ["judging"] else "judging"
    assert not same(expert_block(step1, second), expert_block(step2, second))
    assert same(expert_block(step1, first), expert_block(step2, first))
    assert same(expert_block(init, "associating"), expert_block(step2, "associating"))

    # Without isolation AdamW moves zero-gradient experts: by weight decay, and in step 2 the expert
    # of step 1 by its momentum.  Same seed, same batch order.
    step1, step2 = warm_two_steps(tiny_backbone, tmp_path / "plain", tmp_path / "init", isolate=False)
    assert not same(expert_block(init, "associating"), expert_block(step1, "associating"))
    lr = float(read_log(tmp_path / "plain")[1]["lr"])
    decayed = {k: v * (1 - lr * 0.1) for k, v in expert_block(step1, first).items()}  # weight decay 0.1 alone
    assert not all(torch.allclose(decayed[k], v, rtol=0, atol=1e-7) for k, v in expert_block(step2, first).items())


@pytest.mark.parametrize(
    ("adapter", "has_entropy"),
    [
        (HierarchicalMoEConfig(capability_experts=()), False),  # Backbone+LoRA
        (HierarchicalMoEConfig(routing="flat", capability_experts=(), sub_experts=3), True),  # LoRA-MoE
        (HierarchicalMoEConfig(routing="hard", sub_experts=2), True),  # UC-UIE^h
    ],
    ids=["lora", "lora-moe", "hard"],
)
def test_other_adapters_train_without_task_router(tiny_backbone, tmp_path, adapter, has_entropy):
    summary = train(tiny_backbone, make_instances(4, seed=10), tmp_path, adapter_config=adapter, config=config())
    rows = read_log(tmp_path)
    assert summary["steps"] == 2 and all(float(r["bce"]) == 0 and r["task_gate/judging"] == "" for r in rows)
    assert all((float(r["entropy"]) < 0) is has_entropy for r in rows)
    assert summary["trainable_parameters"] == sum(t.numel() for t in weights(tmp_path / "adapter").values())
    if not adapter.capability_experts:
        with pytest.raises(TrainingError, match="capability warming needs capability experts"):
            train(tiny_backbone, make_instances(2, task="judging"), tmp_path / "warm", stage="warming", adapter_config=adapter, config=config())


def test_gradient_checkpointing_gives_the_same_weights(tiny_backbone, tmp_path):
    instances = make_instances(4, seed=11)
    train(tiny_backbone, instances, tmp_path / "plain", adapter_config=SMALL, config=config())
    train(tiny_backbone, instances, tmp_path / "ckpt", adapter_config=SMALL, config=config(gradient_checkpointing=True))
    a, b = weights(tmp_path / "plain" / "adapter"), weights(tmp_path / "ckpt" / "adapter")
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert float(read_log(tmp_path / "ckpt")[0]["bce"]) > 0  # aux losses kept their gradient path


@pytest.fixture
def fresh_accelerate_state():
    """accelerate keeps one mixed-precision setting per process; let a test pick another."""
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_bf16_mixed_precision_trains(tiny_backbone, tmp_path, fresh_accelerate_state):
    instances = make_instances(4, seed=14)
    summary = train(tiny_backbone, instances, tmp_path / "bf16", adapter_config=SMALL, config=config(bf16=True))
    assert summary["steps"] == 2 and summary["final"]["bce"] > 0
    from accelerate.state import AcceleratorState

    AcceleratorState._reset_state(reset_partial_state=True)
    train(tiny_backbone, instances, tmp_path / "fp32", adapter_config=SMALL, config=config())
    low, full = weights(tmp_path / "bf16" / "adapter"), weights(tmp_path / "fp32" / "adapter")
    assert all(t.dtype == torch.float32 for t in low.values())  # the adapter's weights stay float32
    assert not all(torch.equal(low[k], full[k]) for k in low)  # but the forward ran in bf16
    assert all(torch.allclose(low[k], full[k], atol=5e-2) for k in low)


def test_bad_inputs_are_named(tiny_backbone, tmp_path):
    with pytest.raises(TrainConfigError, match="'batch_size'"):
        TrainConfig(batch_size=0)
    with pytest.raises(TrainConfigError, match="'epochs' and 'max_steps'"):
        TrainConfig(epochs=None)
    with pytest.raises(TrainConfigError, match="'learning_rate' is not known"):
        TrainConfig.from_dict({"learning_rate": 1e-3})
    with pytest.raises(TrainingError, match=r"instance 's0' of dataset 'toy' has task 'ner'"):
        train(tiny_backbone, make_instances(2), tmp_path, stage="warming", adapter_config=SMALL, config=config())
    with pytest.raises(TrainConfigError, match="give adapter_config .*, init_adapter .*, or both"):
        train(tiny_backbone, make_instances(2), tmp_path, config=config())
    with pytest.raises(TrainingError, match=f"init_adapter folder {tmp_path} has no adapter_config.json"):
        train(tiny_backbone, make_instances(2), tmp_path / "out", init_adapter=tmp_path, config=config())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"id": "x", "task": "ner"}) + "\n")
    with pytest.raises(TrainingError, match=rf"{bad}: instance 1 lacks key 'dataset'"):
        train(tiny_backbone, [bad], tmp_path, adapter_config=SMALL, config=config())


def test_cli_trains_from_instance_files(tiny_backbone, tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(inst.to_json()) + "\n" for inst in make_instances(4, seed=12)))
    (tmp_path / "adapter.yaml").write_text("capability_experts: []\n")
    code = cli_main(["train", "--backbone", str(tiny_backbone), "--instances", str(path), "--out", str(tmp_path / "out"),
                     "--adapter-config", str(tmp_path / "adapter.yaml"), "--set", "max_steps=1", "batch_size=4", "epochs=null"])
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["steps"] == 1 and summary["adapter"]["capability_experts"] == []
    assert cli_main(["train", "--backbone", str(tiny_backbone), "--instances", str(path), "--out", str(tmp_path / "x"), "--set", "lr=-1"]) == 1
