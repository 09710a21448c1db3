"""Rule `routing_weights`: a trained model's mean low-level routing weights per task (Figure 6)."""

from pathlib import Path

import torch

from ucuie.adapter import load_adapter
from ucuie.analysis import sample_routing_weights
from ucuie.backbone import load_backbone
from ucuie.jsonio import write_json
from ucuie.train import load_instances
from ucuie.workflow import step


def main(smk):
    torch.set_num_threads(smk.threads)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    load_adapter(model, Path(smk.input.adapter).parent)
    result = sample_routing_weights(model, tokenizer, load_instances(smk.input.instances), smk.params.tokens, smk.params.batch_size, smk.params.seed)
    write_json(smk.output[0], result)
    for task, by_capability in result["weights"].items():
        print(task, {capability: [round(w, 3) for w in weights] for capability, weights in by_capability.items()})


step(snakemake, main)  # noqa: F821
