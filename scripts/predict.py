"""Rule `predict_backbone`: greedy outputs of a model on one dataset's test instances."""

from pathlib import Path

import torch

from ucuie.backbone import load_backbone
from ucuie.jsonio import read_jsonl, write_jsonl
from ucuie.predict import predict
from ucuie.prompts import Instance
from ucuie.workflow import step


def main(smk):
    torch.manual_seed(smk.params.seed)
    torch.set_num_threads(smk.threads)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    instances = [Instance.from_json(obj) for obj in read_jsonl(smk.input.instances)]
    predictions = predict(model, tokenizer, instances, smk.params.batch_size, smk.params.max_new_tokens)
    write_jsonl(smk.output[0], (p.to_json() for p in predictions))


step(snakemake, main)  # noqa: F821
