# The paper's analysis experiments (Sections 4.3-4.4), each a target of its own: `ablations`
# (Table 4, and Table 3's w/o Para.), `subexperts` (Figure 5), `capabilities` (Tables 5-6),
# `routing` (Figure 6). Models are trained and scored by the rules of train.smk and evaluate.smk;
# the logic is ucuie/analysis.py. Settings: config key `analysis`.


rule base_pool:
    # The instructions of the w/o Para. models: each task's base instructions, no paraphrases.
    output:
        f"{RESULTS}/instructions/base.json",
    params:
        seed=config["seed"],
    log:
        f"{LOGS}/base_pool.log",
    benchmark:
        f"{BENCHMARKS}/base_pool/base_pool.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/base_pool.py"


use rule instances as base_instances with:
    input:
        records=f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl",
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=rules.base_pool.output[0],
    output:
        f"{RESULTS}/instances-base/{{dataset}}/{{split}}.jsonl",
    log:
        f"{LOGS}/instances-base/{{dataset}}-{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/base_instances/{{dataset}}-{{split}}.tsv"


use rule subtask_instances as base_subtask_instances with:
    input:
        records=f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl",
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=rules.base_pool.output[0],
    output:
        f"{RESULTS}/instances-base/{{dataset}}/{{split}}.{{capability}}.jsonl",
    log:
        f"{LOGS}/instances-base/{{dataset}}-{{split}}.{{capability}}.log",
    benchmark:
        f"{BENCHMARKS}/base_subtask_instances/{{dataset}}-{{split}}.{{capability}}.tsv"


rule ablation_table:
    # Table 4: each ablation variant's task averages (NER, RE, ED, EAE) and Average.
    input:
        lambda wc: [path for runs in ablation_columns().values() for files in runs for path in files],
    output:
        csv=report(f"{RESULTS}/tables/table4_ablations.csv", category="Analysis"),
        md=f"{RESULTS}/tables/table4_ablations.md",
    params:
        kind="ablations",
        columns=ablation_columns(),
    log:
        f"{LOGS}/analysis/table4_ablations.log",
    benchmark:
        f"{BENCHMARKS}/ablation_table/table4_ablations.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/analysis_table.py"


use rule experiment_table as no_paraphrase_table with:
    # Table 3's w/o Para.: the zero-shot datasets for the model and the same trained on base instructions.
    input:
        lambda wc: [path for runs in no_paraphrase_columns().values() for files in runs for path in files],
    output:
        csv=report(f"{RESULTS}/tables/table3_no_paraphrase.csv", category="Analysis"),
        md=f"{RESULTS}/tables/table3_no_paraphrase.md",
    params:
        columns=no_paraphrase_columns(),
        held_out=HELD_OUT,
    log:
        f"{LOGS}/analysis/table3_no_paraphrase.log",
    benchmark:
        f"{BENCHMARKS}/no_paraphrase_table/table3_no_paraphrase.tsv"


rule subexpert_figure:
    # Figure 5: F1 against the number of sub-experts Q, supervised / low-resource / zero-shot.
    input:
        lambda wc: [path for by_q in subexpert_columns().values() for runs in by_q.values() for files in runs for path in files],
    output:
        csv=report(f"{RESULTS}/tables/subexperts.csv", category="Analysis"),
        figure=report(f"{RESULTS}/figures/subexperts.png", category="Analysis"),
    params:
        columns=subexpert_columns(),
        held_out=HELD_OUT,
    log:
        f"{LOGS}/analysis/subexperts.log",
    benchmark:
        f"{BENCHMARKS}/subexpert_figure/subexperts.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/subexperts.py"


rule predict_capabilities:
    # A trained model with the capability experts of `experts` switched on (J, J+L, ...; `soft`:
    # its learned routing) on the test splits of analysis.capabilities.datasets: each task and each
    # capability sub-task. One job per setting, so the model loads once.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: model_adapter(wc.model),
        instances=[f"{RESULTS}/instances/{d}/test.jsonl" if s == "task" else f"{RESULTS}/instances/{d}/test.{s}.jsonl" for d, s in CAPABILITY_SETS],
    output:
        [f"{RESULTS}/analysis/capabilities/{{model}}/{{experts}}/predictions/{d}.{s}.jsonl" for d, s in CAPABILITY_SETS],
    wildcard_constraints:
        experts=r"soft|[JLA](?:\+[JLA]){0,2}",
    params:
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        max_new_tokens=config["evaluation"]["max_new_tokens"],
        seed=config["seed"],
        experts=lambda wc: wc.experts,
    log:
        f"{LOGS}/analysis/capabilities/{{model}}/{{experts}}/predict.log",
    benchmark:
        f"{BENCHMARKS}/predict_capabilities/{{model}}/{{experts}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/predict.py"


rule score_capabilities:
    # Those predictions scored against the test split (or its capability sub-task records).
    input:
        gold=f"{RESULTS}/data/{{dataset}}/test.jsonl",
        predictions=f"{RESULTS}/analysis/capabilities/{{model}}/{{experts}}/predictions/{{dataset}}.{{subset}}.jsonl",
    output:
        f"{RESULTS}/analysis/capabilities/{{model}}/{{experts}}/scores/{{dataset}}.{{subset}}.json",
    wildcard_constraints:
        experts=r"soft|[JLA](?:\+[JLA]){0,2}",
        subset="task|judging|locating|associating",
    params:
        subtask=lambda wc: "" if wc.subset == "task" else wc.subset,
    log:
        f"{LOGS}/analysis/capabilities/{{model}}/{{experts}}/{{dataset}}.{{subset}}.score.log",
    benchmark:
        f"{BENCHMARKS}/score_capabilities/{{model}}/{{experts}}/{{dataset}}.{{subset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/score.py"


rule capability_tables:
    # Tables 5 and 6: sub-task and task F1 under each expert setting.
    input:
        lambda wc: [path for table in ("subtasks", "tasks") for runs in capability_columns(table).values() for files in runs for path in files],
    output:
        subtasks_csv=report(f"{RESULTS}/tables/table5_capability_subtasks.csv", category="Analysis"),
        subtasks_md=f"{RESULTS}/tables/table5_capability_subtasks.md",
        tasks_csv=report(f"{RESULTS}/tables/table6_capability_tasks.csv", category="Analysis"),
        tasks_md=f"{RESULTS}/tables/table6_capability_tasks.md",
    params:
        kind="capabilities",
        columns={table: capability_columns(table) for table in ("subtasks", "tasks")} if CAPABILITY_MODEL else {},
    log:
        f"{LOGS}/analysis/capability_tables.log",
    benchmark:
        f"{BENCHMARKS}/capability_tables/capability_tables.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/analysis_table.py"


rule routing_weights:
    # Mean low-level routing weight per sub-expert over `analysis.routing.tokens` tokens per task.
    input:
        backbone=rules.backbone.output.config,
        adapter=lambda wc: model_adapter(wc.model),
        instances=[f"{RESULTS}/instances/{d}/test.jsonl" for d in ROUTING_DATASETS],
    output:
        f"{RESULTS}/analysis/routing/{{model}}.json",
    params:
        tokens=ANALYSIS["routing"]["tokens"],
        dtype=config["backbone"]["dtype"],
        batch_size=config["evaluation"]["batch_size"],
        seed=config["seed"],
    log:
        f"{LOGS}/analysis/routing/{{model}}.log",
    benchmark:
        f"{BENCHMARKS}/routing_weights/{{model}}.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["prediction"]["threads"]
    resources:
        **job_resources("prediction"),
    script:
        "../scripts/routing_weights.py"


rule routing_figure:
    # Figure 6: the weights as heatmaps, one per model (paper: with and without L_entropy).
    input:
        lambda wc: [path for files in routing_files().values() for path in files],
    output:
        csv=report(f"{RESULTS}/tables/routing.csv", category="Analysis"),
        figure=report(f"{RESULTS}/figures/routing.png", category="Analysis"),
    params:
        files=routing_files(),
        tokens=ANALYSIS["routing"]["tokens"],
    log:
        f"{LOGS}/analysis/routing_figure.log",
    benchmark:
        f"{BENCHMARKS}/routing_figure/routing.tsv"
    conda:
        "../envs/report.yaml"
    script:
        "../scripts/routing_figure.py"
