# Prediction, scoring and tables.


rule predict_backbone:
    # The untrained backbone, prompted with the same instructions, on every test set.
    input:
        backbone=rules.backbone.output.config,
        instances=f"{RESULTS}/instances/{{dataset}}/test.jsonl",
    output:
        f"{RESULTS}/predictions/backbone/{{dataset}}.jsonl",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
    log:
        f"{LOGS}/predict/backbone-{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/predict_backbone/predict/backbone-{{dataset}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/predict.py"


rule score:
    # Parse, ground and score one model's predictions on one dataset (offset and string F1).
    input:
        gold=f"{RESULTS}/data/{{dataset}}/test.jsonl",
        predictions=f"{RESULTS}/predictions/{{model}}/{{dataset}}.jsonl",
    output:
        f"{RESULTS}/scores/{{model}}/{{dataset}}.json",
    log:
        f"{LOGS}/score/{{model}}-{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/score/{{model}}-{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/score.py"


rule table:
    # Per-dataset, per-task and average F1 of one model, as CSV and Markdown.
    input:
        lambda wc: expand(f"{RESULTS}/scores/{wc.model}/{{dataset}}.json", dataset=list(DATASETS)),
    output:
        csv=f"{RESULTS}/tables/{{model}}.csv",
        md=f"{RESULTS}/tables/{{model}}.md",
    params:
        held_out=[name for name, spec in DATASETS.items() if spec["held_out"]],
    log:
        f"{LOGS}/table/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/table/{{model}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/table.py"


rule experiment_table:
    # Paper Tables 1-3: models side by side, mean and std over seeds, backbone first.
    input:
        lambda wc: [path for runs in table_columns(wc.experiment).values() for files in runs for path in files],
    output:
        csv=report(f"{RESULTS}/tables/{{experiment}}.csv", category="Tables"),
        md=f"{RESULTS}/tables/{{experiment}}.md",
    params:
        columns=lambda wc: table_columns(wc.experiment),
        held_out=HELD_OUT,
    log:
        f"{LOGS}/table/{{experiment}}.log",
    benchmark:
        f"{BENCHMARKS}/experiment_table/table/{{experiment}}.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/experiment_table.py"


rule figures:
    # Headline F1 per task and model, low-resource curves, training curves.
    input:
        tables=expand(f"{RESULTS}/tables/{{experiment}}.csv", experiment=experiment_tables()),
        logs=[f"{RESULTS}/models/{model}/log.csv" for model in trained_models()],
    output:
        results=report(f"{RESULTS}/figures/results.png", category="Figures"),
        training=report(f"{RESULTS}/figures/training.png", category="Figures"),
    log:
        f"{LOGS}/figures.log",
    benchmark:
        f"{BENCHMARKS}/figures/figures.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/figures.py"
