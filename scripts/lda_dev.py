"""Rule `lda_dev`: a round's model on the clean dev sets; the stop rule reads its average F1."""

from pathlib import Path

import torch

from ucuie.adapter import load_adapter
from ucuie.backbone import load_backbone
from ucuie.data.prepare import sample
from ucuie.evaluation import evaluate_predictions
from ucuie.jsonio import write_json
from ucuie.predict import predict
from ucuie.records import read_records
from ucuie.scoring import OFFSET, Scores
from ucuie.train import load_instances
from ucuie.workflow import step


def main(smk):
    torch.set_num_threads(smk.threads)
    torch.manual_seed(smk.params.seed)
    model, tokenizer = load_backbone(Path(smk.input.backbone).parent, smk.params.dtype)
    load_adapter(model, Path(smk.input.adapter).parent)
    gold, instances = [], []
    for records_path, instances_path in zip(smk.input.gold, smk.input.instances):
        records = read_records(records_path)
        if smk.params.max_per_dataset:
            records = sample(records, smk.params.max_per_dataset, smk.params.seed)
        kept = {record.id for record in records}
        gold += records
        instances += [instance for instance in load_instances([instances_path]) if instance.id in kept]
    predictions = predict(model, tokenizer, instances, smk.params.batch_size, smk.params.max_new_tokens)
    result = evaluate_predictions(gold, [p.to_json() for p in predictions])
    dev_f1 = 100 * Scores.from_json(result["scores"]).overall(OFFSET)
    write_json(smk.output[0], {"dev_f1": dev_f1, **result})
    print(f"dev F1 (average over datasets and metrics, offset) = {dev_f1:.2f}; {result['summary']}")


step(snakemake, main)  # noqa: F821
