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
include: "rules/evaluate.smk"


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


rule all:
    default_target: True
    input:
        rules.data.input,
        rules.instructions.input,
        rules.baseline.input,
