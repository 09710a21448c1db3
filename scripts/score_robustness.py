"""Rule `score_robustness`: one model's benchmark predictions, scored per set (clean and each type)."""

from ucuie.jsonio import read_jsonl, write_json
from ucuie.records import read_records
from ucuie.robustness import score_by_variant
from ucuie.workflow import step


def main(smk):
    gold = [record for path in smk.input.gold for record in read_records(path)]
    result = score_by_variant(gold, list(read_jsonl(smk.input.predictions)))
    write_json(smk.output[0], result)
    for variant, scores in result.items():
        print(f"{variant}: {scores['summary']}")


step(snakemake, main)  # noqa: F821
