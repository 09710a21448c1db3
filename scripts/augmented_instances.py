"""Rule `augmented_instances`: prompts of one dataset's perturbed training copies (for LDA)."""

from ucuie.jsonio import read_json, write_jsonl
from ucuie.paraphrase import ParaphrasePool
from ucuie.records import read_records, read_schema
from ucuie.robustness import perturbed_instances
from ucuie.workflow import step


def main(smk):
    sources, *copies = (read_records(path) for path in smk.input.records)
    schema = read_schema(smk.input.schema)
    pool = ParaphrasePool.from_json(read_json(smk.input.pool))
    copies = [record for records in copies for record in records]
    instances = perturbed_instances(sources, copies, schema, pool.instructions[schema.task], smk.params.seed)[len(sources) :]
    write_jsonl(smk.output[0], (instance.to_json() for instance in instances))
    print(f"{len(instances)} augmented instances from {len(sources)} training records")


step(snakemake, main)  # noqa: F821
