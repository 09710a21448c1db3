"""Rule `subexperts`: Figure 5, F1 against the number of sub-experts (table and figure)."""

from ucuie.analysis import subexpert_figure, subexpert_table
from ucuie.jsonio import read_columns
from ucuie.workflow import step


def main(smk):
    columns = {setting: {int(q): runs for q, runs in read_columns(by_q).items()} for setting, by_q in smk.params.columns.items()}
    table = subexpert_table(columns, smk.params.held_out)
    table.to_csv(smk.output.csv, index=False)
    subexpert_figure(table, smk.output.figure)
    print(table.to_string(index=False))


step(snakemake, main)  # noqa: F821
