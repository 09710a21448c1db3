"""Rule `figures`: headline F1 per task and model (Tables 1-3) and the training curves."""

from pathlib import Path

import pandas as pd

from ucuie.figures import results_figure, training_figure
from ucuie.workflow import step


def main(smk):
    tables = {Path(path).stem: pd.read_csv(path) for path in smk.input.tables}
    results_figure(tables, smk.output.results)
    # models/<variant>/<key>/<training set>/seed-<seed>/log.csv -> "<variant> <training set> seed-<seed>"
    logs = {" ".join(Path(path).parts[-5:-1:2] + Path(path).parts[-2:-1]): pd.read_csv(path) for path in smk.input.logs}
    training_figure(logs, smk.output.training)


step(snakemake, main)  # noqa: F821
