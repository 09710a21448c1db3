"""Rule `augmented_instances`: prompts of one dataset's perturbed training copies (for LDA)."""

from ucuie.jsonio import read_json, write_jsonl
from ucuie.lda import annotated_copies
from ucuie.paraphrase import ParaphrasePool
from ucuie.records import read_records, read_schema
from ucuie.robustness import perturbed_instances
from ucuie.workflow import step


def main(smk):
    sources, *copies = (read_records(path) for path in smk.input.records)
    schema = read_schema(smk.input.schema)
    pool = ParaphrasePool.from_json(read_json(smk.input.pool))
    perturbed = [record for records in copies for record in records]
    copies = annotated_copies(perturbed)
    instances = perturbed_instances(sources, copies, schema, pool.instructions[schema.task], smk.params.seed)[len(sources) :]
    write_jsonl(smk.output[0], (instance.to_json() for instance in instances))
    print(f"{len(instances)} augmented instances from {len(sources)} training records "
          f"({len(perturbed) - len(copies)} perturbed copies without frames left out)")


step(snakemake, main)  # noqa: F821
