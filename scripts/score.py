"""Rules `score` and `score_capabilities`: parse, ground and score one model's predictions on one
dataset (for a capability sub-task against the sub-task records of the test split)."""

from ucuie.evaluation import evaluate_predictions
from ucuie.records import read_records
from ucuie.jsonio import read_jsonl, write_json
from ucuie.subtasks import subtask_records
from ucuie.workflow import step


def main(smk):
    gold = read_records(smk.input.gold)
    if smk.params.get("subtask"):
        gold = subtask_records(gold, smk.params.subtask)
    result = evaluate_predictions(gold, list(read_jsonl(smk.input.predictions)))
    write_json(smk.output[0], result)
    print(result["summary"])


step(snakemake, main)  # noqa: F821
