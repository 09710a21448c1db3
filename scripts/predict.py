"""Rules `predict_backbone` and `predict_model`: greedy outputs of a model on one test set."""

from pathlib import Path

import torch

from ucuie.adapter import load_adapter
from ucuie.backbone import load_backbone
from ucuie.jsonio import read_jsonl, write_jsonl
from ucuie.predict import predict
from ucuie.prompts import Instance
from ucuie.workflow import step


def main(smk):
    torch.manual_seed(smk.params.seed)
    torch.set_num_threads(smk.threads)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    if "adapter" in smk.input.keys():
        load_adapter(model, Path(smk.input.adapter).parent)
    instances = [Instance.from_json(obj) for obj in read_jsonl(smk.input.instances)]
    predictions = predict(model, tokenizer, instances, smk.params.batch_size, smk.params.max_new_tokens)
    write_jsonl(smk.output[0], (p.to_json() for p in predictions))


step(snakemake, main)  # noqa: F821
