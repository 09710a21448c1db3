"""Rule `lda_table`: M0, all augmented, random and LDA on RUIE-Bench; dev F1 per LDA round."""

from pathlib import Path
from statistics import mean

from ucuie.figures import lda_figure
from ucuie.jsonio import read_columns, read_json
from ucuie.lda import method_table
from ucuie.robustness import robustness_table
from ucuie.workflow import step


def main(smk):
    scores = read_columns(smk.params.columns)
    finals = [read_json(path) for path in smk.input.finals]
    lda_fraction = mean(final["fraction_used"] for final in finals)
    fractions = {"M0": 0.0, "all augmented": 1.0, "random": lda_fraction, "LDA": lda_fraction}
    table = method_table(robustness_table(scores), list(scores), fractions, smk.params.unseen)
    table.to_csv(smk.output.csv, index=False)
    markdown = table.fillna("-").to_markdown(index=False) + "\n"
    Path(smk.output.md).write_text(markdown, encoding="utf-8")
    curves = {f"seed {Path(path).parent.parent.name.removeprefix('seed-')}": final["dev_f1"] for path, final in zip(smk.input.finals, finals)}
    lda_figure(curves, {label: final["final_round"] for label, final in zip(curves, finals)}, smk.output.figure)
    print(markdown)
    for path, final in zip(smk.input.finals, finals):
        print(f"{path}: final round {final['final_round']}, {100 * final['fraction_used']:.1f}% used; {final['rounds'][-1]['reason']}")


step(snakemake, main)  # noqa: F821
