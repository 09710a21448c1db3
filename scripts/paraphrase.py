"""Rule `paraphrase`: the instruction pool of every task (base instructions + filtered paraphrases)."""

from pathlib import Path

from ucuie.jsonio import write_json
from ucuie.paraphrase import paraphrase_from_config
from ucuie.workflow import step


def main(smk):
    backbone = Path(smk.input[0]).parent if smk.input else None  # an input only when the hf backend uses the backbone
    pool = paraphrase_from_config(smk.params.settings, backbone, smk.params.cache_dir, smk.params.seed)
    write_json(smk.output[0], pool.to_json())


step(snakemake, main)  # noqa: F821
