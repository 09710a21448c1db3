"""Rule `warm`: stage 1, capability warming (each capability expert on its own sub-task)."""

from pathlib import Path

import torch

from ucuie.adapter import HierarchicalMoEConfig
from ucuie.experiments import cap_per_task, train_config
from ucuie.launch import job_processes, train_job
from ucuie.train import WARMING, load_instances
from ucuie.workflow import step


def main(smk):
    torch.set_num_threads(smk.threads)
    settings, seed = smk.params.settings, int(smk.wildcards.seed)
    training = {**settings["training"], **smk.params.bookkeeping, "warming": settings["warming"]}
    instances = cap_per_task(load_instances(smk.input.instances), settings["warming"]["max_per_capability"], seed)
    train_job(
        job_processes(smk),
        Path(smk.input.backbone).parent,
        instances,
        Path(smk.output.summary).parent,
        stage=WARMING,
        adapter_config=HierarchicalMoEConfig.from_dict(settings["adapter"]),
        config=train_config(training, seed, warming=True),
        dtype=smk.params.dtype,
    )


step(snakemake, main)  # noqa: F821
