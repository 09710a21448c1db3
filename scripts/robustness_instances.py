"""Rule `robustness_instances`: prompts of one dataset's benchmark sentences, clean and perturbed."""

from ucuie.jsonio import read_json, write_jsonl
from ucuie.paraphrase import ParaphrasePool
from ucuie.records import read_records, read_schema
from ucuie.robustness import perturbed_instances
from ucuie.workflow import step


def main(smk):
    sources, *copies = (read_records(path) for path in smk.input.records)
    schema = read_schema(smk.input.schema)
    pool = ParaphrasePool.from_json(read_json(smk.input.pool))
    instances = perturbed_instances(sources, [r for records in copies for r in records], schema, pool.instructions[schema.task], smk.params.seed)
    write_jsonl(smk.output[0], (instance.to_json() for instance in instances))
    print(f"{len(sources)} clean and {len(instances) - len(sources)} perturbed instances")


step(snakemake, main)  # noqa: F821
