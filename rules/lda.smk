# Loss-guided Data Augmentation: rounds of hardest-sample selection and fine-tuning on the
# perturbed training splits, the stop rule, the baselines, and the comparison on RUIE-Bench.
# docs/lda.md; the logic is ucuie/lda.py.

LDA_ROUND = f"{RESULTS}/lda/{{variant}}/{{mkey}}/{{lkey}}/seed-{{seed}}/round-{{round}}"
LDA_SEED = f"{RESULTS}/lda/{{variant}}/{{mkey}}/{{lkey}}/seed-{{seed}}"


rule augmented_instances:
    # Prompts of one dataset's perturbed training copies; each keeps its source's instruction.
    input:
        records=lambda wc: perturbed_files("train", wc.dataset),
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=POOL,
    output:
        f"{RESULTS}/lda/augmented/{{dataset}}.jsonl",
    params:
        seed=config["seed"],
    log:
        f"{LOGS}/lda/augmented-{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/augmented_instances/lda/augmented-{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/augmented_instances.py"


rule lda_losses:
    # Round t: the loss of every augmented sample under the previous round's model (M0 for t=1).
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: round_adapter(wc, int(wc.round) - 1),
        instances=expand(rules.augmented_instances.output[0], dataset=LDA_DATASETS),
    output:
        f"{LDA_ROUND}/losses.csv",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_length=lambda wc: VARIANTS[wc.variant]["training"]["max_length"],
    log:
        f"{LOGS}/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-losses.log",
    benchmark:
        f"{BENCHMARKS}/lda_losses/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-losses.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/lda_losses.py"


rule lda_train:
    # Round t: the top beta_t of the augmented samples by loss (plus replay), fine-tuning the previous model.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: round_adapter(wc, int(wc.round) - 1),
        losses=rules.lda_losses.output[0],
        augmented=expand(rules.augmented_instances.output[0], dataset=LDA_DATASETS),
        original=lambda wc: [f"{RESULTS}/instances/{d}/train.jsonl" for d in LDA_DATASETS],
    output:
        adapter=f"{LDA_ROUND}/adapter/adapter_model.safetensors",
        selection=f"{LDA_ROUND}/selection.csv",
        log=f"{LDA_ROUND}/log.csv",
        summary=f"{LDA_ROUND}/summary.json",
    params:
        fraction=lambda wc: LDA_BETAS[int(wc.round) - 1],
        lda=LDA_TRAINING,
        training=lambda wc: VARIANTS[wc.variant]["training"],
        dtype=config["backbone"]["dtype"],
    log:
        f"{LOGS}/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-train.log",
    benchmark:
        f"{BENCHMARKS}/lda_train/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-train.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["training"]["threads"]
    resources:
        **job_resources("training"),
    script:
        "../scripts/lda_train.py"


checkpoint lda_dev:
    # The dev F1 of round t's model (round 0: M0) on the clean dev sets: what the stop rule reads.
    # A checkpoint: round t+1 enters the DAG only once this says round t gained at least delta
    # (see lda_decisions in common.smk). The rule holds no stop setting, so changing delta or
    # max_rounds never reruns it nor any finished round.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: round_adapter(wc, int(wc.round)),
        instances=[f"{RESULTS}/instances/{d}/dev.jsonl" for d in LDA_DATASETS],
        gold=[f"{RESULTS}/data/{d}/dev.jsonl" for d in LDA_DATASETS],
    output:
        f"{LDA_ROUND}/dev.json",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        max_per_dataset=LDA["max_dev_per_dataset"],
        seed=config["seed"],
    log:
        f"{LOGS}/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-dev.log",
    benchmark:
        f"{BENCHMARKS}/lda_dev/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-round-{{round}}-dev.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/lda_dev.py"


rule lda_final:
    # The loop's outcome: every round's stop decision, the last accepted round's adapter, the data
    # fraction used.
    input:
        unpack(lda_final_inputs),
        m0_dev=f"{LDA_SEED}/round-0/dev.json",  # scheduled with round 1, before the checkpoint asks
    output:
        # Keyed by delta and max_rounds: Snakemake does not compare the params of a job whose inputs
        # come through a checkpoint, so other stop settings must mean another (missing) output.
        adapter=f"{LDA_SEED}/{LDA_FINAL}/adapter/adapter_model.safetensors",
        summary=f"{LDA_SEED}/{LDA_FINAL}/final.json",
    params:
        betas=LDA_BETAS,
        delta=LDA["delta"],
        max_rounds=LDA["max_rounds"],
    log:
        f"{LOGS}/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-final.log",
    benchmark:
        f"{BENCHMARKS}/lda_final/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-final.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/lda_final.py"


rule lda_baseline:
    # M0 fine-tuned on all augmented samples, or on a random sample of the fraction LDA used.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: round_adapter(wc, 0),
        augmented=expand(rules.augmented_instances.output[0], dataset=LDA_DATASETS),
        original=lambda wc: [f"{RESULTS}/instances/{d}/train.jsonl" for d in LDA_DATASETS],
        final=lambda wc: [rules.lda_final.output.summary] if wc.method == "random" else [],
    output:
        adapter=f"{LDA_SEED}/baseline-{{method}}/adapter/adapter_model.safetensors",
        selection=f"{LDA_SEED}/baseline-{{method}}/selection.csv",
        log=f"{LDA_SEED}/baseline-{{method}}/log.csv",
        summary=f"{LDA_SEED}/baseline-{{method}}/summary.json",
    params:
        lda=LDA_TRAINING,
        training=lambda wc: VARIANTS[wc.variant]["training"],
        dtype=config["backbone"]["dtype"],
    log:
        f"{LOGS}/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-baseline-{{method}}.log",
    benchmark:
        f"{BENCHMARKS}/lda_baseline/lda/{{variant}}-{{mkey}}-{{lkey}}-seed-{{seed}}-baseline-{{method}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["training"]["threads"]
    resources:
        **job_resources("training"),
    script:
        "../scripts/lda_train.py"


rule lda_table:
    # M0, all augmented, random and LDA on RUIE-Bench: F1 per task and type on the datasets seen in
    # training and on unseen ones, the improvement over M0, the data used; dev F1 per round.
    input:
        scores=[path for runs in lda_columns().values() for files in runs for path in files],
        finals=[f"{lda_dir(LDA_VARIANT, seed)}/{LDA_FINAL}/final.json" for seed in SEEDS] if LDA_VARIANT else [],
    output:
        csv=report(f"{RESULTS}/tables/lda.csv", category="LDA"),
        md=f"{RESULTS}/tables/lda.md",
        figure=report(f"{RESULTS}/figures/lda.png", category="LDA"),
    params:
        columns=lda_columns(),
        unseen=[d for d in BENCH_DATASETS if d in HELD_OUT],
    log:
        f"{LOGS}/lda/table.log",
    benchmark:
        f"{BENCHMARKS}/lda_table/lda/table.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/lda_table.py"
