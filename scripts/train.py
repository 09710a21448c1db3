"""Rule `train`: stage 2, multi-task training of one model variant (from its warmed adapter).

Runs as one process per GPU the job is given (`ucuie.launch`).
"""

from pathlib import Path

import torch

from ucuie.adapter import HierarchicalMoEConfig
from ucuie.experiments import train_config
from ucuie.launch import job_processes, train_job
from ucuie.train import MULTITASK
from ucuie.workflow import step


def main(smk):
    torch.set_num_threads(smk.threads)
    settings = smk.params.settings
    warmed = Path(smk.input.warm[0]).parent if smk.input.warm else None
    train_job(
        job_processes(smk),
        Path(smk.input.backbone).parent,
        list(smk.input.instances),
        Path(smk.output.summary).parent,
        stage=MULTITASK,
        adapter_config=HierarchicalMoEConfig.from_dict(settings["adapter"]),
        init_adapter=warmed,
        config=train_config(settings["training"], int(smk.wildcards.seed)),
        dtype=smk.params.dtype,
    )


step(snakemake, main)  # noqa: F821
