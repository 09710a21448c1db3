"""Rule `experiment_table`: one of the paper's Tables 1-3 (CSV and Markdown)."""

from ucuie.experiments import comparison_table, to_markdown
from ucuie.jsonio import read_json
from ucuie.workflow import step


def main(smk):
    columns = {label: [[read_json(path) for path in files] for files in runs] for label, runs in smk.params.columns.items()}
    table = comparison_table(columns, held_out=smk.params.held_out)
    table.to_csv(smk.output.csv, index=False)
    with open(smk.output.md, "w", encoding="utf-8") as f:
        f.write(to_markdown(table))
    print(to_markdown(table))


step(snakemake, main)  # noqa: F821
