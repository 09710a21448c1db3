# Backbone, demo corpus, conversion into unified records, low-resource samples.


rule backbone:
    # The backbone as a plain HF folder: the embedded SmolLM2 converted once, a local folder
    # linked, or a hub model downloaded.
    output:
        config=f"{BACKBONE}/config.json",
    params:
        source=config["backbone"]["source"],
        shape=config["backbone"]["shape"],
    log:
        f"logs/backbone/{config['backbone']['name']}.log",
    benchmark:
        f"{BENCHMARKS}/backbone/{config['backbone']['name']}.tsv"
    conda:
        "../envs/model.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/backbone.py"


rule demo_corpus:
    # The embedded demo corpus (deterministic; sizes under data.demo in the config).
    output:
        expand(
            f"{RESULTS}/demo_corpus/{{dataset}}/{{split}}.jsonl",
            zip,
            dataset=[d for d in demo_datasets() for _ in splits_of(d)],
            split=[s for d in demo_datasets() for s in splits_of(d)],
        ),
        expand(f"{RESULTS}/demo_corpus/{{dataset}}/schema.json", dataset=demo_datasets()),
    params:
        demo=config["data"]["demo"],
        out_dir=lambda wildcards, output: str(Path(output[0]).parents[1]),
    log:
        f"{LOGS}/demo_corpus.log",
    benchmark:
        f"{BENCHMARKS}/demo_corpus/demo_corpus.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/demo_corpus.py"


rule convert:
    # One dataset's splits as unified JSONL records, its schema, and the problems found.
    input:
        convert_source,
    output:
        splits=expand(f"{RESULTS}/data/{{{{dataset}}}}/{{split}}.jsonl", split=["train", "dev", "test"]),
        schema=f"{RESULTS}/data/{{dataset}}/schema.json",
        problems=f"{RESULTS}/data/{{dataset}}/problems.txt",
    params:
        spec=lambda wc: DATASETS[wc.dataset],
        source=lambda wc, input: str(Path(input[0]).parent) if input else DATASETS[wc.dataset]["path"],
        splits=lambda wc: splits_of(wc.dataset),
        max_train=config["data"]["max_train_per_dataset"],
        seed=config["seed"],
    log:
        f"{LOGS}/convert/{{dataset}}.log",
    benchmark:
        f"{BENCHMARKS}/convert/{{dataset}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/convert.py"


rule low_resource:
    # A seeded fraction of one dataset's (capped) training split (paper Table 2).
    input:
        f"{RESULTS}/data/{{dataset}}/train.jsonl",
    output:
        f"{RESULTS}/data/{{dataset}}/train.low-{{fraction}}.seed-{{seed}}.jsonl",
    log:
        f"{LOGS}/low_resource/{{dataset}}-{{fraction}}-{{seed}}.log",
    benchmark:
        f"{BENCHMARKS}/low_resource/{{dataset}}-{{fraction}}-{{seed}}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/low_resource.py"
