"""Rule `table`: per-dataset, per-task and average F1 of one model (CSV and Markdown)."""

from ucuie.evaluation import results_table
from ucuie.jsonio import read_json
from ucuie.workflow import step


def main(smk):
    table = results_table([read_json(path) for path in smk.input], held_out=smk.params.held_out)
    table.to_csv(smk.output.csv, index=False)
    with open(smk.output.md, "w", encoding="utf-8") as f:
        f.write(table.to_markdown(index=False, floatfmt=".2f") + "\n")


step(snakemake, main)  # noqa: F821
