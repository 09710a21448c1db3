# RUIE-Bench: perturbed copies of the test sentences (the benchmark) and of the training splits
# (for LDA), and the robustness evaluation of trained models. docs/perturbations.md.

for _task, _kinds in PERTURBATIONS.items():

    rule:
        # Every perturbation type of one task applied to one split: set 'bench' samples the
        # benchmark's source sentences from the test split, set 'train' the training records
        # LDA augments (all, or lda.sources_per_dataset). Accepted copies per type, the counts,
        # and samples for a person to read.
        name:
            f"perturb_{_task}"
        input:
            unpack(perturb_inputs),
        output:
            sources=f"{RESULTS}/robustness/{{set}}/{{dataset}}/sources.jsonl",
            perturbed=[f"{RESULTS}/robustness/{{set}}/{{dataset}}/{kind}.jsonl" for kind in _kinds],
            report=f"{RESULTS}/robustness/{{set}}/{{dataset}}/report.json",
            examples=f"{RESULTS}/robustness/{{set}}/{{dataset}}/examples.md",
        wildcard_constraints:
            dataset=alternatives(datasets_of_task(_task)),
        params:
            kinds=list(_kinds),
            size=lambda wc: SOURCE_SHARES[wc.dataset] if wc.set == "bench" else (LDA["sources_per_dataset"] or None),
            settings={key: ROBUSTNESS[key] for key in ("generators", "llm", "typo_rate", "max_context_words")},
            seed=config["seed"],
            cache_dir="resources/cache/llm",
        log:
            f"{LOGS}/perturb/{{set}}-{{dataset}}.log",
        benchmark:
            f"{BENCHMARKS}/perturb_{_task}/perturb/{{set}}-{{dataset}}.tsv"
        conda:
            "../envs/model.yaml"
        threads: 1
        script:
            "../scripts/perturb.py"


rule robustness_instances:
    # Prompts of the benchmark's clean and perturbed sentences of one dataset (a perturbed
    # sentence keeps its source's instruction, so only the text differs).
    input:
        records=lambda wc: perturbed_files("bench", wc.dataset),
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=POOL,
    output:
        f"{RESULTS}/robustness/instances/{{dataset}}.jsonl",
    params:
        seed=config["seed"],
    log:
        f"{LOGS}/robustness/instances-{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/robustness_instances/robustness/instances-{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/robustness_instances.py"


rule predict_robustness:
    # A trained model (or an LDA model) on one dataset's benchmark sentences, clean and perturbed.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: model_adapter(wc.model),
        instances=rules.robustness_instances.output[0],
    output:
        f"{RESULTS}/robustness/predictions/{{model}}/{{dataset}}.jsonl",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
    log:
        f"{LOGS}/robustness/predict/{{model}}/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/predict_robustness/robustness/predict/{{model}}/{{dataset}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/predict.py"


rule score_robustness:
    # One model's benchmark predictions on one dataset, scored on the clean and on each perturbed set.
    input:
        gold=lambda wc: perturbed_files("bench", wc.dataset),
        predictions=f"{RESULTS}/robustness/predictions/{{model}}/{{dataset}}.jsonl",
    output:
        f"{RESULTS}/robustness/scores/{{model}}/{{dataset}}.json",
    log:
        f"{LOGS}/robustness/score/{{model}}/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/score_robustness/robustness/score/{{model}}/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/score_robustness.py"


rule robustness_table:
    # F1 per dataset and type with the relative drop from clean (mean over seeds), the generation
    # counts per type, and the figure of the drops.
    input:
        scores=[path for runs in robustness_columns().values() for files in runs for path in files],
        reports=[f"{robustness_dir('bench', dataset)}/report.json" for dataset in BENCH_DATASETS],
    output:
        csv=report(f"{RESULTS}/tables/robustness.csv", category="Robustness"),
        md=f"{RESULTS}/tables/robustness.md",
        generation=f"{RESULTS}/tables/robustness_generation.csv",
        figure=report(f"{RESULTS}/figures/robustness.png", category="Robustness"),
    params:
        columns=robustness_columns(),
    log:
        f"{LOGS}/robustness/table.log",
    benchmark:
        f"{BENCHMARKS}/robustness_table/robustness/table.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/robustness_table.py"
