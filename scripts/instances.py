"""Rule `instances`: one prompt/target instance per record, instruction sampled from the pool."""

from ucuie.data.prepare import sample
from ucuie.paraphrase import ParaphrasePool
from ucuie.prompts import build_instances
from ucuie.records import read_records, read_schema
from ucuie.jsonio import read_json, write_jsonl
from ucuie.workflow import step


def main(smk):
    records = read_records(smk.input.records)
    if smk.wildcards.split == "test" and smk.params.max_test:
        records = sample(records, smk.params.max_test, smk.params.seed)
    schema = read_schema(smk.input.schema)
    pool = ParaphrasePool.from_json(read_json(smk.input.pool))
    instances = build_instances(records, schema, pool.instructions[schema.task], smk.params.seed)
    write_jsonl(smk.output[0], (instance.to_json() for instance in instances))
    print(f"{len(instances)} instances")


step(snakemake, main)  # noqa: F821
