"""Checkpoint `lda_decide`: the stop rule on one round (accepted? go on?)."""

from ucuie.jsonio import read_json, write_json
from ucuie.lda import decide
from ucuie.workflow import step


def main(smk):
    current, previous = read_json(smk.input.current), read_json(smk.input.previous)
    decision = decide(int(smk.wildcards.round), current["dev_f1"], previous["dev_f1"], smk.params.delta, smk.params.max_rounds)
    write_json(smk.output[0], decision.to_json())
    print(decision.reason)


step(snakemake, main)  # noqa: F821
