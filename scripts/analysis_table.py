"""Rules `ablation_table` (Table 4) and `capability_tables` (Tables 5 and 6): CSV and Markdown."""

from ucuie.analysis import IE_ROWS, ablation_table, capability_table, subtask_rows, to_markdown
from ucuie.jsonio import read_json
from ucuie.workflow import step


def read(columns):
    return {label: [[read_json(path) for path in files] for files in runs] for label, runs in columns.items()}


def write(table, csv, md, index):
    table.to_csv(csv, index=False)
    text = to_markdown(table, index)
    with open(md, "w", encoding="utf-8") as f:
        f.write(text)
    print(text)


def main(smk):
    if smk.params.kind == "ablations":
        write(ablation_table(read(smk.params.columns)), smk.output.csv, smk.output.md, "method")
        return
    columns = smk.params.columns
    write(capability_table(read(columns["subtasks"]), subtask_rows()), smk.output.subtasks_csv, smk.output.subtasks_md, "task")
    write(capability_table(read(columns["tasks"]), IE_ROWS), smk.output.tasks_csv, smk.output.tasks_md, "task")


step(snakemake, main)  # noqa: F821
