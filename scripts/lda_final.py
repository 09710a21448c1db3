"""Rule `lda_final`: the last accepted round's adapter, the rounds run, the augmented data used."""

import shutil
from pathlib import Path

from ucuie.jsonio import read_json, write_json
from ucuie.lda import Decision, final_round, fraction_used
from ucuie.workflow import step


def main(smk):
    decisions = [Decision(**read_json(path)) for path in smk.input.decisions]
    final = final_round(decisions)
    out = Path(smk.output.adapter).parent
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(Path(smk.input.adapter).parent, out)
    summary = {
        "final_round": final,
        "fraction_used": fraction_used(smk.params.betas, final),
        "rounds": [decision.to_json() for decision in decisions],
        "dev_f1": [read_json(path)["dev_f1"] for path in smk.input.dev],
    }
    write_json(smk.output.summary, summary)
    print(f"final model: round {final}; {100 * summary['fraction_used']:.1f}% of the augmented data; {decisions[-1].reason}")


step(snakemake, main)  # noqa: F821
