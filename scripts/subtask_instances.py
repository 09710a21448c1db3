"""Rule `subtask_instances`: judging / locating / associating instances of one split (D_J, D_L, D_A)."""

from ucuie.data.prepare import sample
from ucuie.jsonio import read_json, write_jsonl
from ucuie.paraphrase import ParaphrasePool
from ucuie.records import read_records, read_schema
from ucuie.subtasks import build_subtask_instances
from ucuie.workflow import step


def main(smk):
    records = read_records(smk.input.records)
    if smk.wildcards.split == "test" and smk.params.max_test:
        records = sample(records, smk.params.max_test, smk.params.seed)  # the same records as the task's test set
    schema = read_schema(smk.input.schema)
    pool = ParaphrasePool.from_json(read_json(smk.input.pool))
    instances = build_subtask_instances(records, schema, pool.instructions, smk.params.seed, smk.wildcards.capability)
    write_jsonl(smk.output[0], (instance.to_json() for instance in instances))
    print(f"{len(instances)} {smk.wildcards.capability} instances")


step(snakemake, main)  # noqa: F821
