# Instruction paraphrase pools and instances (instruction + schema + text -> target).


rule paraphrase:
    # Base instructions plus filtered LLM paraphrases, per task and capability sub-task.
    input:
        paraphrase_inputs,
    output:
        POOL,
    params:
        settings=config["instructions"],
        seed=config["seed"],
        cache_dir="resources/cache/llm",
    log:
        f"{LOGS}/paraphrase.log",
    benchmark:
        f"{BENCHMARKS}/paraphrase/paraphrase.tsv"
    conda:
        "../envs/model.yaml"
    threads: RESOURCES["paraphrase"]["threads"]
    resources:
        **job_resources("paraphrase"),
    script:
        "../scripts/paraphrase.py"


rule instances:
    # One instance per record: an instruction sampled from the pool (seeded), the schema, the target.
    input:
        records=f"{RESULTS}/data/{{dataset}}/{{split}}.jsonl",
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        pool=POOL,
    output:
        f"{RESULTS}/instances/{{dataset}}/{{split}}.jsonl",
    params:
        seed=config["seed"],
        max_test=config["evaluation"]["max_test_per_dataset"],
    log:
        f"{LOGS}/instances/{{dataset}}-{{split}}.log",
    benchmark:
        f"{BENCHMARKS}/instances/{{dataset}}-{{split}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/instances.py"
