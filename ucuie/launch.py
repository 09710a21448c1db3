"""Training with the processes a job is given: in this process, or under ``accelerate launch``.

The workflow's training rules (``warm``, ``train``, ``lda_train``, ``lda_baseline``) call
:func:`train_job` with the number of GPUs the rule was given (its ``gpu`` resource).  One process
(or none on a CPU) trains in the rule's own Python process; N > 1 start ``accelerate launch
--multi_gpu --num_processes N -m ucuie.cli train ...`` (DDP, one process per GPU) on the same
instances, adapter and training settings, written next to the output first.  On a machine
without CUDA the same launch runs N CPU processes on the gloo backend (``ACCELERATE_USE_CPU=1``):
that is how the multi-process path is tested here.  ``TrainConfig.batch_size`` is per process, so
N processes see N times the samples per step (``docs/training.md``: several processes).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ucuie.adapter import HierarchicalMoEConfig
from ucuie.jsonio import write_json, write_jsonl
from ucuie.prompts import Instance
from ucuie.train import MULTITASK, SUMMARY, TrainConfig, TrainingError, load_instances, train

#: what a multi-process run reads, written under ``<out>/launch/``
LAUNCH = "launch"


def train_job(
    processes: int,
    backbone: str | Path,
    instances: Sequence[Instance | str | Path],
    out: str | Path,
    *,
    stage: str = MULTITASK,
    adapter_config: HierarchicalMoEConfig | None = None,
    init_adapter: str | Path | None = None,
    config: TrainConfig | None = None,
    dtype: str = "float32",
) -> dict[str, Any]:
    """:func:`ucuie.train.train` in this process (``processes <= 1``) or under ``accelerate launch``."""
    if processes <= 1:
        return train(backbone, instances, out, stage=stage, adapter_config=adapter_config, init_adapter=init_adapter, config=config, dtype=dtype)
    out = Path(out)
    folder = out / LAUNCH
    folder.mkdir(parents=True, exist_ok=True)
    # The files are rewritten with the same content on a rerun, so a checkpoint of the run resumes.
    write_jsonl(folder / "instances.jsonl", (instance.to_json() for instance in load_instances(instances)))
    write_json(folder / "train.json", (config or TrainConfig()).to_dict())
    command = launch_command(processes) + [
        "-m", "ucuie.cli", "train",
        "--backbone", str(backbone),
        "--instances", str(folder / "instances.jsonl"),
        "--out", str(out),
        "--stage", stage,
        "--train-config", str(folder / "train.json"),
        "--dtype", dtype,
    ]
    if adapter_config is not None:
        write_json(folder / "adapter.json", adapter_config.to_dict())
        command += ["--adapter-config", str(folder / "adapter.json")]
    if init_adapter is not None:
        command += ["--init-adapter", str(init_adapter)]
    print("launching:", " ".join(command), flush=True)
    sys.stderr.flush()
    result = subprocess.run(command, stdout=sys.stdout, stderr=subprocess.STDOUT, env=launch_environment(processes), check=False)
    if result.returncode != 0:
        raise TrainingError(f"{processes}-process training (accelerate launch) exited with status {result.returncode}; its output is above in this log")
    shutil.rmtree(folder)
    return json.loads((out / SUMMARY).read_text())


def launch_command(processes: int) -> list[str]:
    """``accelerate launch`` for ``processes`` DDP processes on this machine."""
    return [
        sys.executable, "-m", "accelerate.commands.launch",
        "--multi_gpu", "--num_processes", str(processes), "--num_machines", "1",
        "--mixed_precision", "no",  # TrainConfig.bf16 decides
        "--dynamo_backend", "no",
    ]


def launch_environment(processes: int) -> dict[str, str]:
    """The environment of the launched processes: CPU processes (gloo) where there is no CUDA."""
    import torch

    env = dict(os.environ)
    # The job's threads shared among its processes (torch.set_num_threads was given the job's).
    env.setdefault("OMP_NUM_THREADS", str(max(1, torch.get_num_threads() // processes)))
    if not torch.cuda.is_available():
        env["ACCELERATE_USE_CPU"] = "1"
    return env


def job_processes(smk) -> int:
    """Training processes of a Snakemake job: one per GPU it was given, at least one."""
    return max(1, int(smk.resources.get("gpu", 0) or 0))
