"""Multi-process training: two DDP processes (gloo, CPU) under ``accelerate launch`` against one.

The two runs see the same global batch at every optimizer step: two processes with ``batch_size``
b each take micro-batches 2k and 2k+1 of the same plan, one process with ``grad_accum`` 2 takes
that pair as one step.  Their logged losses and final adapter weights must agree to float
round-off (gloo sums the two gradients where one process adds them up in backward).
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

from ucuie.adapter import HierarchicalMoEConfig
from ucuie.config import validate_config
from ucuie.experiments import train_config
from ucuie.launch import train_job
from ucuie.train import WARMING

from test_train import make_instances as instances  # the same toy NER instances

ROOT = Path(__file__).resolve().parents[1]
#: documented in docs/training.md ("Several processes")
LOSS_RTOL, WEIGHT_ATOL = 1e-5, 1e-6


def smoke_training() -> dict:
    return validate_config(yaml.safe_load((ROOT / "configs" / "smoke.yaml").read_text()))["training"]


def losses(folder: Path) -> list[float]:
    with (folder / "log.csv").open(newline="") as f:
        return [float(row["loss"]) for row in csv.DictReader(f)]


def assert_same_run(one: Path, two: Path, steps: int) -> None:
    single, double = losses(one), losses(two)
    assert len(single) == len(double) == steps
    assert double == pytest.approx(single, rel=LOSS_RTOL)
    a, b = load_file(str(one / "adapter" / "adapter_model.safetensors")), load_file(str(two / "adapter" / "adapter_model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:
        torch.testing.assert_close(b[name], a[name], rtol=0, atol=WEIGHT_ATOL, msg=lambda m, name=name: f"{name}: {m}")
    # Training moved the weights: the comparison is not between two untouched initialisations.
    assert any(float(t.abs().max()) > 0 for name, t in a.items() if "up" in name)


@pytest.mark.slow
def test_two_processes_match_one_with_the_same_global_batch(tiny_backbone, tmp_path):
    base = dataclasses.replace(train_config(smoke_training(), seed=13), batch_size=2, epochs=2, max_steps=None, log_every=1, checkpoint_every=None)
    data = instances(16, seed=21)  # 8 micro-batches of 2: no batch is left out under 2 processes
    adapter = HierarchicalMoEConfig(sub_experts=2)
    one = train_job(1, tiny_backbone, data, tmp_path / "one", adapter_config=adapter, config=dataclasses.replace(base, grad_accum=2))
    two = train_job(2, tiny_backbone, data, tmp_path / "two", adapter_config=adapter, config=base)
    assert two["processes"] == 2 and one["processes"] == 1
    assert one["samples_per_step"] == two["samples_per_step"] == 4 and one["steps"] == two["steps"] == 8
    assert one["tokens"] == two["tokens"]
    assert_same_run(tmp_path / "one", tmp_path / "two", 8)
    assert not (tmp_path / "two" / "launch").exists()  # the launch files are removed after a run


@pytest.mark.slow
def test_warming_under_two_processes_starts_from_the_saved_adapter(tiny_backbone, tmp_path):
    # Capability warming (homogeneous sub-task batches, switched-off experts kept) and an
    # init_adapter with an explicit adapter config go through the launched command line as well.
    base = dataclasses.replace(train_config(smoke_training(), seed=13, warming=True), batch_size=2, epochs=1, max_steps=None, log_every=1, checkpoint_every=None)
    data = instances(8, task="locating", seed=5) + instances(8, task="judging", seed=6)
    adapter = HierarchicalMoEConfig(sub_experts=2)
    train_job(1, tiny_backbone, data, tmp_path / "start", adapter_config=adapter, config=dataclasses.replace(base, grad_accum=2, epochs=None, max_steps=1), stage=WARMING)
    start = tmp_path / "start" / "adapter"
    one = train_job(1, tiny_backbone, data, tmp_path / "one", init_adapter=start, adapter_config=adapter, config=dataclasses.replace(base, grad_accum=2), stage=WARMING)
    two = train_job(2, tiny_backbone, data, tmp_path / "two", init_adapter=start, adapter_config=adapter, config=base, stage=WARMING)
    assert one["steps"] == two["steps"] == 4 and two["stage"] == WARMING
    assert_same_run(tmp_path / "one", tmp_path / "two", 4)
