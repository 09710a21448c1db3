# UC-UIE (hierarchical MoE adapter for unified IE) and RUIE-Bench + LDA, as one workflow.
#
#   snakemake --cores 2                      the default target below, on config.yaml (embedded demo)
#   snakemake --cores 2 --configfile configs/smoke.yaml --replace-workflow-config
#                                            another complete config (see README: "Configs")
#   snakemake --cores 2 <target or file>     one named target or one output file
#
# Every rule lives in rules/*.smk; every step script in scripts/; the logic in the ucuie package.

include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/instructions.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/robustness.smk"
include: "rules/lda.smk"
include: "rules/analysis.smk"

report: "report/workflow.rst"

# Seconds of CPU each: on a cluster (profiles/slurm) they run on the submitting node, not as jobs.
localrules:
    score,
    table,
    experiment_table,
    figures,
    score_robustness,
    robustness_table,
    lda_final,
    lda_table,
    ablation_table,
    no_paraphrase_table,
    subexpert_figure,
    score_capabilities,
    capability_tables,
    routing_figure,


rule data:
    # Unified records and schemas of every configured dataset, plus the low-resource samples.
    input:
        data_outputs(),


rule instructions:
    # Paraphrase pool and the instances (prompt + target) of every split.
    input:
        POOL,
        instance_outputs(),


rule baseline:
    # The untrained backbone prompted with the same instructions: its scores table.
    input:
        expand(f"{RESULTS}/tables/backbone.{{ext}}", ext=["csv", "md"]),


rule train_models:
    # Every trained model the experiment tables need (stage 1 warming included).
    input:
        [f"{RESULTS}/models/{model}/summary.json" for model in trained_models()],


rule experiments:
    # Paper Tables 1-3 (CSV + Markdown) and the figures; `snakemake --report` collects them.
    input:
        expand(f"{RESULTS}/tables/{{experiment}}.{{ext}}", experiment=experiment_tables(), ext=["csv", "md"]),
        rules.figures.output,


rule robustness:
    # RUIE-Bench: the perturbed benchmark, the robustness table (F1 per dataset and type, relative
    # drop from clean) and its figure.
    input:
        rules.robustness_table.output,


rule lda:
    # Loss-guided Data Augmentation: the rounds, the baselines, their table on RUIE-Bench and the
    # dev F1 per round.
    input:
        rules.lda_table.output,


rule ablations:
    # Table 4 (ablation variants: task averages and Average) and Table 3's w/o Para. column.
    input:
        analysis_outputs("ablations"),


rule subexperts:
    # Figure 5: the number of sub-experts Q, supervised / low-resource / zero-shot.
    input:
        analysis_outputs("subexperts"),


rule capabilities:
    # Tables 5 and 6: capability experts switched on by hand, on the sub-tasks and on NER/RE/EAE.
    input:
        analysis_outputs("capabilities"),


rule routing:
    # Figure 6: mean routing weight per sub-expert, per task and capability, with/without L_entropy.
    input:
        analysis_outputs("routing"),


rule all:
    default_target: True
    input:
        rules.data.input,
        rules.instructions.input,
        rules.baseline.input,
        rules.experiments.input,
        rules.robustness.input,
        rules.lda.input if LDA["in_default_target"] else [],
