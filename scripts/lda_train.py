"""Rules `lda_train` and `lda_baseline`: fine-tune a model on selected augmented samples.

`lda_train` (round t) keeps the top beta_t of the augmented samples by the previous model's loss;
`lda_baseline` takes all of them (`all`) or a random sample of the fraction LDA used (`random`).
Both start from the previous model's adapter and may mix in a replay share of the original data.
"""

import shutil
from pathlib import Path

import pandas as pd
import torch

from ucuie.experiments import train_config
from ucuie.jsonio import read_json
from ucuie.lda import replay_sample, select_hardest, select_random
from ucuie.robustness import variant_of
from ucuie.launch import job_processes, train_job
from ucuie.train import MULTITASK, load_instances
from ucuie.workflow import step


def selected_ids(smk, augmented) -> tuple[list[str], pd.DataFrame]:
    lda, seed = smk.params.lda, int(smk.wildcards.seed)
    if "losses" in smk.input.keys():
        losses = pd.read_csv(smk.input.losses, dtype={"id": str})
        return select_hardest(losses, smk.params.fraction, lda["granularity"]), losses
    table = pd.DataFrame({"id": [i.id for i in augmented], "dataset": [i.dataset for i in augmented], "type": [variant_of(i.id) for i in augmented]})
    if smk.wildcards.method == "all":
        return list(table["id"]), table
    fraction = read_json(smk.input.final[0])["fraction_used"]
    print(f"random baseline: {100 * fraction:.1f}% of the augmented data per {lda['granularity']}, as LDA used")
    return select_random(table, fraction, seed, lda["granularity"]), table


def main(smk):
    torch.set_num_threads(smk.threads)
    lda, seed = smk.params.lda, int(smk.wildcards.seed)
    out = Path(smk.output.summary).parent
    augmented = load_instances(smk.input.augmented)
    ids, table = selected_ids(smk, augmented)
    table[table["id"].isin(set(ids))].to_csv(smk.output.selection, index=False)
    chosen = set(ids)
    instances = [instance for instance in augmented if instance.id in chosen]
    replay = replay_sample(load_instances(smk.input.original), lda["replay"], len(instances), seed)
    print(f"{len(instances)} of {len(augmented)} augmented samples, {len(replay)} replayed original samples")
    if not instances:
        # LDA accepted no round, so the random baseline of its fraction (0%) is M0 itself.
        shutil.rmtree(out / "adapter", ignore_errors=True)
        shutil.copytree(Path(smk.input.adapter).parent, out / "adapter")
        pd.DataFrame(columns=["step"]).to_csv(smk.output.log, index=False)
        Path(smk.output.summary).write_text('{"steps": 0, "note": "no augmented sample selected: the model is the starting one"}\n')
        return
    training = {**smk.params.training, **lda["training"]}
    train_job(
        job_processes(smk),
        Path(smk.input.backbone).parent,
        instances + replay,
        out,
        stage=MULTITASK,
        init_adapter=Path(smk.input.adapter).parent,
        config=train_config(training, seed),
        dtype=smk.params.dtype,
    )


step(snakemake, main)  # noqa: F821
