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
        f"{BENCHMARKS}/predict/backbone-{{dataset}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: 2
    resources:
        mem_mb=8000,
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
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/table.py"
