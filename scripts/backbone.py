"""Rule `backbone`: materialise the configured backbone as a plain HF folder."""

from pathlib import Path

from ucuie.backbone import materialise_backbone
from ucuie.workflow import step


def main(smk):
    folder = materialise_backbone(smk.params.source, Path(smk.output.config).parent, smk.params.shape)
    print(f"backbone {smk.params.source!r} ready in {folder}")


step(snakemake, main)  # noqa: F821 (the object Snakemake injects)
