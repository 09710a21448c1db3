"""Rule `experiment_table`: one of the paper's Tables 1-3 (CSV and Markdown)."""

from ucuie.experiments import comparison_table, write_table
from ucuie.jsonio import read_columns
from ucuie.workflow import step


def main(smk):
    write_table(comparison_table(read_columns(smk.params.columns), held_out=smk.params.held_out), smk.output.csv, smk.output.md)


step(snakemake, main)  # noqa: F821
