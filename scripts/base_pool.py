"""Rule `base_pool`: the instruction pool of the w/o Para. models (base instructions only)."""

from ucuie.jsonio import write_json
from ucuie.paraphrase import build_pool
from ucuie.workflow import step


def main(smk):
    pool = build_pool(None, 0, smk.params.seed)  # no backend, no paraphrases: each task's base instructions
    write_json(smk.output[0], pool.to_json())
    print({task: len(instructions) for task, instructions in pool.instructions.items()})


step(snakemake, main)  # noqa: F821
