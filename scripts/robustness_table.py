"""Rule `robustness_table`: F1 per dataset and type, the relative drop from clean, the figure."""

from pathlib import Path

from ucuie.figures import robustness_figure
from ucuie.jsonio import read_columns, read_json
from ucuie.robustness import report_summary, robustness_table
from ucuie.workflow import step


def main(smk):
    models = read_columns(smk.params.columns)
    table = robustness_table(models)
    table.to_csv(smk.output.csv, index=False)
    markdown = table.fillna("-").to_markdown(index=False) + "\n"
    Path(smk.output.md).write_text(markdown, encoding="utf-8")
    reports = {Path(path).parent.name: read_json(path) for path in smk.input.reports}
    report_summary(reports).to_csv(smk.output.generation, index=False)
    robustness_figure(table, smk.output.figure)
    print(markdown)


step(snakemake, main)  # noqa: F821
