"""Rule `low_resource`: a seeded fraction of one dataset's training split."""

from ucuie.data.prepare import low_resource_sample
from ucuie.records import read_records, write_records
from ucuie.workflow import step


def main(smk):
    records = read_records(smk.input[0])
    kept = low_resource_sample(records, float(smk.wildcards.fraction), int(smk.wildcards.seed))
    write_records(smk.output[0], kept)
    print(f"kept {len(kept)} of {len(records)} training records")


step(snakemake, main)  # noqa: F821
