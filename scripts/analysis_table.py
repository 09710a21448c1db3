"""Rules `ablation_table` (Table 4) and `capability_tables` (Tables 5 and 6): CSV and Markdown."""

from ucuie.analysis import IE_ROWS, ablation_table, capability_table, subtask_rows
from ucuie.experiments import write_table
from ucuie.jsonio import read_columns
from ucuie.workflow import step


def main(smk):
    if smk.params.kind == "ablations":
        write_table(ablation_table(read_columns(smk.params.columns)), smk.output.csv, smk.output.md, ["method"])
        return
    columns = smk.params.columns
    write_table(capability_table(read_columns(columns["subtasks"]), subtask_rows()), smk.output.subtasks_csv, smk.output.subtasks_md, ["task"])
    write_table(capability_table(read_columns(columns["tasks"]), IE_ROWS), smk.output.tasks_csv, smk.output.tasks_md, ["task"])


step(snakemake, main)  # noqa: F821
