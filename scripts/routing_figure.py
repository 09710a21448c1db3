"""Rule `routing_figure`: Figure 6, mean routing weight per sub-expert as heatmaps (and a CSV)."""

import pandas as pd

from ucuie.analysis import mean_over_seeds, routing_figure
from ucuie.jsonio import read_json
from ucuie.workflow import step


def main(smk):
    frames = {label: mean_over_seeds([read_json(path) for path in files]) for label, files in smk.params.files.items()}
    pd.concat({label: frame for label, frame in frames.items()}, names=["model", "task-capability"]).to_csv(smk.output.csv)
    routing_figure(frames, smk.params.tokens, smk.output.figure)
    for label, frame in frames.items():
        print(label)
        print(frame.round(3).to_string())


step(snakemake, main)  # noqa: F821
