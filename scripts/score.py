"""Rule `score`: parse, ground and score one model's predictions on one dataset."""

from ucuie.evaluation import evaluate_predictions
from ucuie.records import read_records
from ucuie.jsonio import read_jsonl, write_json
from ucuie.workflow import step


def main(smk):
    result = evaluate_predictions(read_records(smk.input.gold), list(read_jsonl(smk.input.predictions)))
    write_json(smk.output[0], result)
    print(result["summary"])


step(snakemake, main)  # noqa: F821
