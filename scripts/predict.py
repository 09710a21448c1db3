"""Rules `predict_backbone`, `predict_model` and `predict_capabilities`: greedy outputs of a model
on one test set (for `predict_capabilities` with the capability experts of `experts` forced on)."""

from pathlib import Path

import torch

from ucuie.adapter import load_adapter
from ucuie.backbone import load_backbone
from ucuie.jsonio import read_jsonl, write_jsonl
from ucuie.predict import predict
from ucuie.prompts import Instance
from ucuie.tasks import SOFT, capabilities_of_combination
from ucuie.workflow import step


def main(smk):
    torch.manual_seed(smk.params.seed)
    torch.set_num_threads(smk.threads)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    if "adapter" in smk.input.keys():
        load_adapter(model, Path(smk.input.adapter).parent)
    experts = smk.params.get("experts", SOFT)
    capabilities = None if experts == SOFT else capabilities_of_combination(experts)
    sources = [smk.input.instances] if isinstance(smk.input.instances, str) else list(smk.input.instances)
    for source, out in zip(sources, smk.output, strict=True):  # predict_capabilities: several sets, one model load
        instances = [Instance.from_json(obj) for obj in read_jsonl(source)]
        predictions = predict(model, tokenizer, instances, smk.params.batch_size, smk.params.max_new_tokens, capabilities)
        write_jsonl(out, (p.to_json() for p in predictions))
        print(f"{len(predictions)} predictions of {source} -> {out}")


step(snakemake, main)  # noqa: F821
