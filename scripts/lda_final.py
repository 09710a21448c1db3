"""Rule `lda_final`: the stop rule over the rounds run, the last accepted round's adapter, the
augmented data used."""

import shutil
from pathlib import Path

from ucuie.jsonio import read_json, write_json
from ucuie.lda import decide, final_round, fraction_used
from ucuie.workflow import step


def main(smk):
    dev = [read_json(path)["dev_f1"] for path in smk.input.dev]  # round 0 (M0), 1, ..., last run
    decisions = [decide(t, dev[t], dev[t - 1], smk.params.delta, smk.params.max_rounds) for t in range(1, len(dev))]
    for decision in decisions:
        print(decision.reason)
    if not decisions[-1].stop or any(decision.stop for decision in decisions[:-1]):
        raise RuntimeError(f"the dev scores given ({len(dev) - 1} rounds) do not end where the stop rule stops; rerun snakemake")
    final = final_round(decisions)
    out = Path(smk.output.adapter).parent
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(Path(smk.input.adapter).parent, out)
    summary = {
        "final_round": final,
        "fraction_used": fraction_used(smk.params.betas, final),
        "rounds": [decision.to_json() for decision in decisions],
        "dev_f1": dev,
    }
    write_json(smk.output.summary, summary)
    print(f"final model: round {final}; {100 * summary['fraction_used']:.1f}% of the augmented data")


step(snakemake, main)  # noqa: F821
