"""Rule `paraphrase`: the instruction pool of every task (base instructions + filtered paraphrases)."""

from ucuie.paraphrase import paraphrase_from_config
from ucuie.jsonio import write_json
from ucuie.workflow import step


def main(smk):
    pool = paraphrase_from_config(smk.params.settings, smk.params.backbone, smk.params.cache_dir, smk.params.seed)
    write_json(smk.output[0], pool.to_json())


step(snakemake, main)  # noqa: F821
