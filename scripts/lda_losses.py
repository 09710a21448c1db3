"""Rule `lda_losses`: the loss of every augmented sample under the previous round's model."""

from pathlib import Path

import torch

from ucuie.adapter import load_adapter
from ucuie.backbone import load_backbone
from ucuie.lda import loss_table
from ucuie.train import load_instances, sample_losses
from ucuie.workflow import step


def main(smk):
    torch.set_num_threads(smk.threads)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    load_adapter(model, Path(smk.input.adapter).parent)
    instances = load_instances(smk.input.instances)
    losses = sample_losses(model, tokenizer, instances, smk.params.batch_size, smk.params.max_length)
    table = loss_table([i.id for i in instances], [i.dataset for i in instances], losses)
    table.to_csv(smk.output[0], index=False)
    print(table.groupby(["dataset", "type"])["loss"].describe().round(3).to_string())


step(snakemake, main)  # noqa: F821
