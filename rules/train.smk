# Capability sub-task data, stage 1 (capability warming), stage 2 (multi-task training),
# and prediction with a trained adapter. docs/training.md, docs/capabilities.md.


rule subtask_instances:
    # Judging / locating / associating instances of one split (paper: D_J, D_L, D_A).
    input:
        records=f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl",
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=POOL,
    output:
        f"{RESULTS}/instances/{{dataset}}/{{split}}.{{capability}}.jsonl",
    params:
        seed=config["seed"],
        max_test=config["evaluation"]["max_test_per_dataset"],
    log:
        f"{LOGS}/instances/{{dataset}}-{{split}}.{{capability}}.log",
    benchmark:
        f"{BENCHMARKS}/subtask_instances/instances/{{dataset}}-{{split}}.{{capability}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/subtask_instances.py"


rule warm:
    # Stage 1: each capability expert (plus the shared one) on its own sub-task. Shared by every
    # variant with the same warming settings (the key is their hash).
    input:
        backbone=rules.backbone.output.config,
        instances=warming_instances,
    output:
        adapter=f"{RESULTS}/warming/{{trainset}}/{{key}}/seed-{{seed}}/adapter/adapter_model.safetensors",
        log=f"{RESULTS}/warming/{{trainset}}/{{key}}/seed-{{seed}}/log.csv",
        summary=f"{RESULTS}/warming/{{trainset}}/{{key}}/seed-{{seed}}/summary.json",
    params:
        settings=lambda wc: WARMINGS[wc.key],
        # How often to checkpoint and log does not change the result, so it is not in the key.
        bookkeeping={key: config["training"][key] for key in ("checkpoint_every", "log_every")},
        dtype=config["backbone"]["dtype"],
    log:
        f"{LOGS}/warm/{{trainset}}-{{key}}-seed-{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/warm/{{trainset}}-{{key}}-seed-{{seed}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["training"]["threads"]
    resources:
        **job_resources("training"),
    script:
        "../scripts/warm.py"


rule train:
    # Stage 2: multi-task training of one variant on one training set with one seed.
    input:
        backbone=rules.backbone.output.config,
        instances=training_instances,
        warm=warm_start,
    output:
        adapter=f"{RESULTS}/models/{{variant}}/{{mkey}}/{{trainset}}/seed-{{seed}}/adapter/adapter_model.safetensors",
        log=f"{RESULTS}/models/{{variant}}/{{mkey}}/{{trainset}}/seed-{{seed}}/log.csv",
        summary=f"{RESULTS}/models/{{variant}}/{{mkey}}/{{trainset}}/seed-{{seed}}/summary.json",
    params:
        settings=variant_settings,
        dtype=config["backbone"]["dtype"],
    log:
        f"{LOGS}/train/{{variant}}-{{mkey}}-{{trainset}}-seed-{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/train/{{variant}}-{{mkey}}-{{trainset}}-seed-{{seed}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["training"]["threads"]
    resources:
        **job_resources("training"),
    script:
        "../scripts/train.py"


rule predict_model:
    # A trained adapter on one test set: batched greedy generation, routed by the instructions.
    input:
        backbone=rules.backbone.output.config,
        adapter=rules.train.output.adapter,
        instances=f"{RESULTS}/instances/{{dataset}}/test.jsonl",
    output:
        f"{RESULTS}/predictions/{{variant}}/{{mkey}}/{{trainset}}/seed-{{seed}}/{{dataset}}.jsonl",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
    log:
        f"{LOGS}/predict/{{variant}}-{{mkey}}-{{trainset}}-seed-{{seed}}-{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/predict_model/predict/{{variant}}-{{mkey}}-{{trainset}}-seed-{{seed}}-{{dataset}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/predict.py"
