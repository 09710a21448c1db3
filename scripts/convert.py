"""Rule `convert`: one dataset's splits as unified records, its schema and the problems found."""

from ucuie.data.prepare import prepare_dataset
from ucuie.workflow import step


def main(smk):
    spec = smk.params.spec
    prepare_dataset(
        name=smk.wildcards.dataset,
        fmt="unified" if spec["format"] == "demo" else spec["format"],
        source=smk.params.source,
        task=spec.get("task"),
        splits=smk.params.splits,
        max_train=smk.params.max_train,
        seed=smk.params.seed,
        out_dir=smk.output.schema.rsplit("/", 1)[0],
    )


step(snakemake, main)  # noqa: F821
