# Config validation and the helpers every rule file uses.
import re
from pathlib import Path

from ucuie.config import ConfigError, validate_config
from ucuie.data.convert import FORMATS
from ucuie.data.convert.ie_instructions import task_of as ie_instructions_task
from ucuie.data.demo import load_corpus
from ucuie.experiments import (
    BASE_INSTRUCTIONS,
    FULL,
    VariantError,
    analysis_variants,
    instruction_set,
    low_resource_set,
    model_id,
    model_key,
    no_paraphrase_variant,
    resolve_variant,
    settings_key,
    subexpert_variants,
    warming_settings,
)
from ucuie.perturb import PERTURBATIONS
from ucuie.lda import beta_schedule
from ucuie.robustness import source_shares
from ucuie.tasks import capabilities_of

if not workflow.overwrite_configfiles:
    configfile: "config.yaml"


def _check_not_merged():
    # Snakemake deep-merges --configfile into config.yaml: a complete config (one naming its
    # own `run`) would silently inherit the default's datasets. Partial overlays are fine.
    # Cluster job steps get the config files without the flag; the submitting run checked them.
    if workflow.config_settings.replace_workflow_config or not workflow.is_main_process:
        return
    for path in workflow.overwrite_configfiles:
        import yaml

        if "run" in (yaml.safe_load(Path(path).read_text()) or {}):
            raise ConfigError(
                f"{path} is a complete config (it sets 'run'): add --replace-workflow-config so it "
                "replaces config.yaml instead of being merged into it"
            )


_check_not_merged()
try:
    validate_config(config, Path(workflow.basedir) / "rules" / "config.schema.yaml")
except ConfigError as error:
    raise WorkflowError(str(error)) from None

RUN = config["run"]
RESULTS = f"results/{RUN}"
LOGS = f"logs/{RUN}"
BENCHMARKS = f"{RESULTS}/benchmarks"
BACKBONE = f"resources/backbone/{config['backbone']['name']}"
POOL = f"{RESULTS}/instructions/pool.json"
DATASETS = config["data"]["datasets"]

_DEMO = {definition.name: definition for definition in load_corpus().datasets}
for _name, _spec in DATASETS.items():
    if _spec["format"] == "demo" and _name not in _DEMO:
        raise WorkflowError(f"config key 'data.datasets.{_name}': the demo corpus has no dataset {_name!r} (it has {', '.join(_DEMO)})")
    if _spec["format"] == "demo" and _spec["held_out"] != _DEMO[_name].held_out:
        raise WorkflowError(f"config key 'data.datasets.{_name}.held_out' must be {str(_DEMO[_name].held_out).lower()}: the demo corpus builds it that way")
    if _spec["format"] != "demo" and "path" not in _spec:
        raise WorkflowError(f"config key 'data.datasets.{_name}.path' is missing: say where the {_spec['format']} files are")
    if _spec["format"] != "demo" and not Path(_spec["path"]).expanduser().exists():
        raise WorkflowError(f"config key 'data.datasets.{_name}.path': folder {_spec['path']} does not exist")

SEEDS = config["training"]["seeds"]
RESOURCES = config["resources"]


def job_resources(family):
    """Memory, runtime (minutes) and GPUs of a rule family, from the config's 'resources'."""
    job = RESOURCES[family]
    return {"mem_mb": job["mem_mb"], "runtime": job["runtime"], "gpu": job["gpus"]}


LOW = config["data"]["low_resource"]
HELD_OUT = [name for name, spec in DATASETS.items() if spec["held_out"]]
TRAINED_ON = [name for name in DATASETS if name not in HELD_OUT]
for _name in LOW["datasets"]:
    if _name not in TRAINED_ON:
        raise WorkflowError(f"config key 'data.low_resource.datasets' names {_name!r}, which is not a configured dataset that is trained on (held-out datasets have no training split)")

try:
    VARIANTS = {_name: resolve_variant(config, _name) for _name in config["models"]}
except VariantError as error:
    raise WorkflowError(str(error)) from None
ANALYSIS = config["analysis"]
for _key, _names in (
    ("ablations", ANALYSIS["ablations"]),
    ("no_paraphrase", [ANALYSIS["no_paraphrase"]]),
    ("subexperts.model", [ANALYSIS["subexperts"]["model"]]),
    ("capabilities.model", [ANALYSIS["capabilities"]["model"]]),
    ("routing.models", ANALYSIS["routing"]["models"]),
):
    for _name in filter(None, _names):
        if _name not in VARIANTS:
            raise WorkflowError(f"config key 'analysis.{_key}' names model {_name!r}, which is not under 'models' (it has {', '.join(VARIANTS) or 'none'})")
# The w/o Para. and sub-expert sweep variants (rules/analysis.smk) are derived from configured ones.
VARIANTS.update(analysis_variants(config, VARIANTS))
EXPERIMENTS = config["experiments"]
for _name in EXPERIMENTS["supervised"] + [EXPERIMENTS["low_resource"]] * bool(EXPERIMENTS["low_resource"]):
    if _name not in VARIANTS:
        raise WorkflowError(f"config key 'experiments' names model {_name!r}, which is not under 'models' (it has {', '.join(VARIANTS) or 'none'})")
if EXPERIMENTS["supervised"] and not TRAINED_ON:
    raise WorkflowError("config key 'experiments.supervised' needs at least one dataset that is not held out")
#: Warming settings by key: variants whose warming is the same share one warming run.
WARMINGS = {
    settings_key(warming_settings(variant)): warming_settings(variant)
    for variant in VARIANTS.values()
    if variant["training"]["warming"]["enabled"]
}
MODEL_KEYS = {name: model_key(variant) for name, variant in VARIANTS.items()}
LOW_SETS = {low_resource_set(fraction): fraction for fraction in LOW["fractions"]} if EXPERIMENTS["low_resource"] and LOW["datasets"] else {}
#: The low-resource set of the sub-expert sweep (Figure 5), if it has that setting.
SWEEP_LOW_SET = low_resource_set(ANALYSIS["subexperts"]["low_resource"]) if ANALYSIS["subexperts"]["model"] and ANALYSIS["subexperts"]["low_resource"] and LOW["datasets"] else ""
#: Every low-resource training set some target trains on (Table 2's and the sweep's).
TRAIN_LOW_SETS = {**LOW_SETS, **({SWEEP_LOW_SET: ANALYSIS["subexperts"]["low_resource"]} if SWEEP_LOW_SET else {})}

wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)) if DATASETS else "NONE",
    split=r"train|dev|test|train\.low-[0-9.e-]+\.seed-[0-9]+",
    capability="judging|locating|associating",
    variant="|".join(map(re.escape, VARIANTS)) if VARIANTS else "NONE",
    trainset="|".join(map(re.escape, [FULL, *TRAIN_LOW_SETS])),
    key="[0-9a-f]{10}",
    seed="[0-9]+",
    mkey="[0-9a-f]{10}",
    # A trained model, or an LDA model (the final round, a baseline) trained from one.
    model="backbone|(?:lda/)?(?:{variants})/[0-9a-f]{{10}}/(?:(?:{sets})/seed-[0-9]+|[0-9a-f]{{10}}/seed-[0-9]+/(?:final-[0-9a-f]{{10}}|baseline-all|baseline-random))".format(
        variants="|".join(map(re.escape, VARIANTS)) or "NONE", sets="|".join(map(re.escape, [FULL, *TRAIN_LOW_SETS]))
    ),
    experiment="table1_supervised|table2_low_resource|table3_zero_shot",
    set="bench|train",
    lkey="[0-9a-f]{10}",
    round="[0-9]+",
    method="all|random",


def splits_of(dataset):
    """Held-out datasets are evaluated zero-shot: they have a test split only."""
    return ["test"] if DATASETS[dataset]["held_out"] else ["train", "dev", "test"]


def demo_datasets():
    return [name for name, spec in DATASETS.items() if spec["format"] == "demo"]


def data_outputs():
    files = []
    for dataset in DATASETS:
        files += expand(f"{RESULTS}/data/{dataset}/{{split}}.jsonl", split=splits_of(dataset))
        files.append(f"{RESULTS}/data/{dataset}/schema.json")
    for dataset in LOW["datasets"]:
        files += expand(
            f"{RESULTS}/data/{dataset}/train.low-{{fraction}}.seed-{{seed}}.jsonl",
            fraction=LOW["fractions"],
            seed=SEEDS,
        )
    return files


def instance_outputs():
    return [f"{RESULTS}/instances/{d}/{s}.jsonl" for d in DATASETS for s in splits_of(d)]


def convert_source(wildcards):
    spec = DATASETS[wildcards.dataset]
    if spec["format"] == "demo":
        return expand(f"{RESULTS}/demo_corpus/{wildcards.dataset}/{{split}}.jsonl", split=splits_of(wildcards.dataset))
    return []


def paraphrase_inputs(wildcards):
    settings = config["instructions"]
    if settings["backend"] == "hf" and settings["hf"]["model"] == "backbone":
        return [f"{BACKBONE}/config.json"]
    return []


# Training sets, warming and trained models (rules/train.smk).


def training_split(trainset, seed):
    """The split file a training set reads: the full train split or a low-resource sample."""
    return "train" if trainset == FULL else f"train.low-{TRAIN_LOW_SETS[trainset]}.seed-{seed}"


def training_datasets(trainset):
    return TRAINED_ON if trainset == FULL else LOW["datasets"]


def instances_dir(instructions):
    """Where the instances of an instruction set live: the paraphrase pool's, or the base instructions'."""
    return f"{RESULTS}/instances-base" if instructions == BASE_INSTRUCTIONS else f"{RESULTS}/instances"


def training_instances(wildcards):
    split = training_split(wildcards.trainset, wildcards.seed)
    folder = instances_dir(instruction_set(VARIANTS[wildcards.variant]))
    return [f"{folder}/{d}/{split}.jsonl" for d in training_datasets(wildcards.trainset)]


def warming_instances(wildcards):
    split = training_split(wildcards.trainset, wildcards.seed)
    folder = instances_dir(instruction_set(WARMINGS[wildcards.key]))
    return [
        f"{folder}/{d}/{split}.{capability}.jsonl"
        for d in training_datasets(wildcards.trainset)
        for capability in capabilities_of(dataset_task(d))
    ]


def dataset_task(dataset):
    """The task of a dataset, known before conversion: demo corpus, config, format or folder name."""
    spec = DATASETS[dataset]
    if spec["format"] == "demo":
        return _DEMO[dataset].task
    if "task" in spec:
        return spec["task"]
    if spec["format"] == "unified":
        raise WorkflowError(f"config key 'data.datasets.{dataset}.task' is missing: say which task the unified records hold")
    return FORMATS[spec["format"]] or ie_instructions_task(Path(spec["path"]).expanduser())


def warming_dir(variant, trainset, seed):
    return f"{RESULTS}/warming/{trainset}/{settings_key(warming_settings(VARIANTS[variant]))}/seed-{seed}"


def variant_settings(wildcards):
    """The settings of the variant a train job builds; its key must be the current config's."""
    if wildcards.mkey != MODEL_KEYS[wildcards.variant]:
        raise WorkflowError(
            f"models/{wildcards.variant}/{wildcards.mkey} was trained with other settings than the config's "
            f"'models.{wildcards.variant}' (key {MODEL_KEYS[wildcards.variant]}); it can be reused, not rebuilt"
        )
    return VARIANTS[wildcards.variant]


def warm_start(wildcards):
    """The warming adapter a variant starts stage 2 from (none for the w/o warming ablation)."""
    if not VARIANTS[wildcards.variant]["training"]["warming"]["enabled"]:
        return []
    return [f"{warming_dir(wildcards.variant, wildcards.trainset, wildcards.seed)}/adapter/adapter_model.safetensors"]


# Experiment tables (rules/evaluate.smk): paper Tables 1-3.

SUPERVISED_TABLE, LOW_RESOURCE_TABLE, ZERO_SHOT_TABLE = "table1_supervised", "table2_low_resource", "table3_zero_shot"


def experiment_tables():
    """The tables this config defines: Table 1 and 3 need supervised variants, Table 2 low-resource sets."""
    tables = []
    if EXPERIMENTS["supervised"] and TRAINED_ON:
        tables.append(SUPERVISED_TABLE)
    if LOW_SETS:
        tables.append(LOW_RESOURCE_TABLE)
    if EXPERIMENTS["supervised"] and HELD_OUT:
        tables.append(ZERO_SHOT_TABLE)
    return tables


def score_file(model, dataset):
    return f"{RESULTS}/scores/{model}/{dataset}.json"


def table_columns(experiment):
    """Column label -> one list of score files per seed; the untrained backbone comes first."""
    if experiment == LOW_RESOURCE_TABLE:
        datasets, variant = LOW["datasets"], EXPERIMENTS["low_resource"]
        sets = {f"{100 * fraction:g}%": trainset for trainset, fraction in LOW_SETS.items()}
        if variant in EXPERIMENTS["supervised"]:
            sets["100%"] = FULL  # already trained for Table 1: the reference point costs nothing
        runs = {label: (variant, trainset) for label, trainset in sets.items()}
    else:
        datasets = TRAINED_ON if experiment == SUPERVISED_TABLE else HELD_OUT
        runs = {variant: (variant, FULL) for variant in EXPERIMENTS["supervised"]}
    columns = {"backbone": [[score_file("backbone", d) for d in datasets]]}
    for label, (variant, trainset) in runs.items():
        models = [model_id(variant, MODEL_KEYS[variant], trainset, seed) for seed in SEEDS]
        columns[label] = [[score_file(model, d) for d in datasets] for model in models]
    return columns


def trained_models():
    """Every (variant, training set, seed) the experiment tables need."""
    models = []
    for experiment in experiment_tables():
        for label, runs in table_columns(experiment).items():
            if label != "backbone":
                models += [Path(files[0]).parent.relative_to(f"{RESULTS}/scores").as_posix() for files in runs]
    return list(dict.fromkeys(models))


# RUIE-Bench (rules/robustness.smk): which datasets the benchmark samples, how many sentences
# each, which models it evaluates.

ROBUSTNESS = config["robustness"]
for _name in ROBUSTNESS["datasets"]:
    if _name not in DATASETS or dataset_task(_name) not in PERTURBATIONS:
        raise WorkflowError(f"config key 'robustness.datasets' names {_name!r}, which is not a configured NER, RE or EE dataset")
BENCH_DATASETS = ROBUSTNESS["datasets"] or [name for name in DATASETS if dataset_task(name) in PERTURBATIONS]
SOURCE_SHARES = source_shares(
    ROBUSTNESS["sources_per_task"], {task: [d for d in BENCH_DATASETS if dataset_task(d) == task] for task in PERTURBATIONS}
)
ROBUSTNESS_MODELS = ROBUSTNESS["models"] or EXPERIMENTS["supervised"]
for _name in ROBUSTNESS_MODELS:
    if _name not in VARIANTS:
        raise WorkflowError(f"config key 'robustness.models' names model {_name!r}, which is not under 'models' (it has {', '.join(VARIANTS) or 'none'})")
if any(ROBUSTNESS["generators"][key] == "llm" for key in ROBUSTNESS["generators"]) and ROBUSTNESS["llm"]["backend"] == "openai" and not ROBUSTNESS["llm"]["openai"]["url"]:
    raise WorkflowError("config key 'robustness.llm.openai.url' is empty: set the endpoint the llm perturbation backend calls")


def datasets_of_task(task, names=None):
    return [name for name in (DATASETS if names is None else names) if dataset_task(name) == task]


def alternatives(names):
    """A wildcard regex matching exactly ``names`` (one that matches nothing when empty)."""
    return "|".join(map(re.escape, names)) if names else "NONE"


def robustness_dir(perturbed_set, dataset):
    return f"{RESULTS}/robustness/{perturbed_set}/{dataset}"


def perturbed_files(perturbed_set, dataset):
    """The sources and the perturbed copy per type of one perturbed split."""
    folder = robustness_dir(perturbed_set, dataset)
    return [f"{folder}/sources.jsonl"] + [f"{folder}/{kind}.jsonl" for kind in PERTURBATIONS[dataset_task(dataset)]]


def perturb_inputs(wildcards):
    """The split a perturbed set starts from (bench: test; train: train), and the LLM if it is the backbone."""
    inputs = {"records": f"{RESULTS}/data/{wildcards.dataset}/{'test' if wildcards.set == 'bench' else 'train'}.jsonl"}
    llm = ROBUSTNESS["llm"]
    if "llm" in ROBUSTNESS["generators"].values() and llm["backend"] == "hf" and llm["hf"]["model"] == "backbone":
        inputs["backbone"] = f"{BACKBONE}/config.json"
    return inputs


def robustness_columns():
    """Column label (variant) -> one list of score files (one per benchmark dataset) per seed."""
    return {
        variant: [
            [f"{RESULTS}/robustness/scores/{model_id(variant, MODEL_KEYS[variant], FULL, seed)}/{dataset}.json" for dataset in BENCH_DATASETS]
            for seed in SEEDS
        ]
        for variant in ROBUSTNESS_MODELS
    }


def model_adapter(model):
    """The adapter file of a model id: a trained model (``models/...``) or an LDA model (``lda/...``)."""
    folder = f"{RESULTS}/{model}" if model.startswith("lda/") else f"{RESULTS}/models/{model}"
    return f"{folder}/adapter/adapter_model.safetensors"


# Loss-guided Data Augmentation (rules/lda.smk).

LDA = config["lda"]
LDA_VARIANT = LDA["model"] or (EXPERIMENTS["supervised"][0] if EXPERIMENTS["supervised"] else "")
if LDA["model"] and LDA["model"] not in VARIANTS:
    raise WorkflowError(f"config key 'lda.model' names model {LDA['model']!r}, which is not under 'models' (it has {', '.join(VARIANTS) or 'none'})")
#: The trained datasets whose training splits are augmented (RUIE-Bench perturbs NER, RE and EE).
LDA_DATASETS = [name for name in TRAINED_ON if dataset_task(name) in PERTURBATIONS]
#: What shapes the rounds' outputs; delta and max_rounds only decide how many rounds run.
LDA_KEY = settings_key({key: LDA[key] for key in ("beta", "granularity", "replay", "max_dev_per_dataset", "training")})
LDA_BETAS = beta_schedule(LDA["beta"], LDA["max_rounds"])
#: The LDA settings a round's or baseline's training reads (not delta or max_rounds, so allowing
#: more rounds or another stop threshold never retrains a finished round).
LDA_TRAINING = {key: LDA[key] for key in ("granularity", "replay", "training")}
#: The final model's folder, keyed by the stop settings (changing them re-decides, retrains nothing).
LDA_STOP_KEY = settings_key({key: LDA[key] for key in ("delta", "max_rounds")})
LDA_FINAL = f"final-{LDA_STOP_KEY}"


def lda_dir(variant, seed):
    return f"{RESULTS}/lda/{variant}/{MODEL_KEYS[variant]}/{LDA_KEY}/seed-{seed}"


def round_adapter(wildcards, round_number):
    """The adapter of round ``round_number`` (0: M0, the trained model the loop starts from)."""
    if round_number == 0:
        return model_adapter(model_id(wildcards.variant, wildcards.mkey, FULL, wildcards.seed))
    return f"{RESULTS}/lda/{wildcards.variant}/{wildcards.mkey}/{wildcards.lkey}/seed-{wildcards.seed}/round-{round_number}/adapter/adapter_model.safetensors"


def lda_decisions(wildcards):
    """The LDA stop decisions over the rounds run so far, one per round; the last one says stop.

    Round t's dev score comes from the checkpoint ``lda_dev``, so round t is asked for (and
    trained) only once round t-1 was accepted and max_rounds allows it; Snakemake re-evaluates
    this after each checkpoint.  Delta and max_rounds are applied here, not in a rule, so changing
    them re-decides from the stored dev scores without retraining any round."""
    import json

    from ucuie.lda import decide

    keys = {key: getattr(wildcards, key) for key in ("variant", "mkey", "lkey", "seed")}

    def dev_f1(round_number):
        path = checkpoints.lda_dev.get(**keys, round=round_number).output[0]
        return json.loads(Path(path).read_text())["dev_f1"]

    decisions, previous = [], None
    for round_number in range(1, LDA["max_rounds"] + 1):
        current = dev_f1(round_number)
        previous = dev_f1(0) if previous is None else previous  # M0's score is needed only now
        decisions.append(decide(round_number, current, previous, LDA["delta"], LDA["max_rounds"]))
        if decisions[-1].stop:
            break
        previous = current
    return decisions


def lda_final_inputs(wildcards):
    """The dev scores of every round run (round 0: M0) and the adapter of the last accepted round."""
    from ucuie.lda import final_round

    decisions = lda_decisions(wildcards)
    folder = f"{RESULTS}/lda/{wildcards.variant}/{wildcards.mkey}/{wildcards.lkey}/seed-{wildcards.seed}"
    return {
        "dev": [f"{folder}/round-{r}/dev.json" for r in range(len(decisions) + 1)],
        "adapter": round_adapter(wildcards, final_round(decisions)),
    }


def lda_columns():
    """Method label -> one list of benchmark score files (one per dataset) per seed: M0, the
    baselines, and LDA's final model."""
    if not LDA_VARIANT:
        return {}
    models = {"M0": [model_id(LDA_VARIANT, MODEL_KEYS[LDA_VARIANT], FULL, seed) for seed in SEEDS]}
    for method, leaf in (("all augmented", "baseline-all"), ("random", "baseline-random"), ("LDA", LDA_FINAL)):
        models[method] = [f"{lda_dir(LDA_VARIANT, seed)}/{leaf}".removeprefix(f"{RESULTS}/") for seed in SEEDS]
    return {
        label: [[f"{RESULTS}/robustness/scores/{model}/{dataset}.json" for dataset in BENCH_DATASETS] for model in ids]
        for label, ids in models.items()
    }


# Analysis experiments (rules/analysis.smk): Table 4 with Table 3's w/o Para., Figure 5,
# Tables 5-6, Figure 6. Every model they score is a plain trained model, so the score and
# prediction rules above serve them and share whatever other targets already built.

SWEEP = subexpert_variants(config, VARIANTS)
CAPABILITY_MODEL = ANALYSIS["capabilities"]["model"]
#: Expert settings of Tables 5-6: the forced combinations, then the learned routing.
EXPERT_SETTINGS = [*ANALYSIS["capabilities"]["combinations"], "soft"] if CAPABILITY_MODEL else []
#: Figure 6 reads the tasks whose experts the paper shows: NER, RE and EE datasets trained on.
ROUTING_DATASETS = [d for d in TRAINED_ON if dataset_task(d) in ("ner", "re", "ee")]
for _name in ANALYSIS["capabilities"]["datasets"]:
    if _name not in TRAINED_ON:
        raise WorkflowError(f"config key 'analysis.capabilities.datasets' names {_name!r}, which is not a configured dataset that is trained on")
CAPABILITY_DATASETS = ANALYSIS["capabilities"]["datasets"] or TRAINED_ON
#: (dataset, subset) pairs Tables 5-6 predict: each dataset's sub-tasks, and the NER/RE/EE tasks.
CAPABILITY_SETS = [(d, s) for d in CAPABILITY_DATASETS for s in capabilities_of(dataset_task(d))] + [
    (d, "task") for d in CAPABILITY_DATASETS if dataset_task(d) in ("ner", "re", "ee")
]


def full_model(variant, seed):
    return model_id(variant, MODEL_KEYS[variant], FULL, seed)


def score_columns(variants, datasets, trainset=FULL):
    """Label (variant) -> one list of score files (one per dataset) per seed."""
    return {
        label: [[score_file(model_id(variant, MODEL_KEYS[variant], trainset, seed), d) for d in datasets] for seed in SEEDS]
        for label, variant in variants.items()
    }


def ablation_columns():
    return score_columns({variant: variant for variant in ANALYSIS["ablations"]}, TRAINED_ON)


def no_paraphrase_columns():
    """Table 3's zero-shot datasets: the model as trained, and the same without paraphrased instructions."""
    name = ANALYSIS["no_paraphrase"]
    if not name or not HELD_OUT:
        return {}
    return score_columns({name: name, "w/o Para.": no_paraphrase_variant(name)}, HELD_OUT)


def subexpert_columns():
    """Setting -> {Q: one list of score files per seed} (Figure 5)."""
    if not SWEEP:
        return {}
    settings = {}
    if TRAINED_ON:
        settings["supervised"] = (FULL, TRAINED_ON)
    if SWEEP_LOW_SET:
        settings["low-resource"] = (SWEEP_LOW_SET, LOW["datasets"])
    if HELD_OUT:
        settings["zero-shot"] = (FULL, HELD_OUT)
    return {
        setting: {q: score_columns({"run": variant}, datasets, trainset)["run"] for q, variant in SWEEP.items()}
        for setting, (trainset, datasets) in settings.items()
    }


def capability_columns(table):
    """Expert setting -> one list of score files per seed: sub-task sets (Table 5) or NER/RE/EE test sets (Table 6)."""
    sets = [(d, s) for d, s in CAPABILITY_SETS if (s == "task") == (table == "tasks")]
    return {
        experts: [[f"{RESULTS}/analysis/capabilities/{full_model(CAPABILITY_MODEL, seed)}/{experts}/scores/{d}.{s}.json" for d, s in sets] for seed in SEEDS]
        for experts in EXPERT_SETTINGS
    }


def routing_files():
    """Label -> one routing-weight file per seed (Figure 6)."""
    return {variant: [f"{RESULTS}/analysis/routing/{full_model(variant, seed)}.json" for seed in SEEDS] for variant in ANALYSIS["routing"]["models"]}


def analysis_outputs(name):
    """The files of one analysis target (empty when the config leaves it out)."""
    tables = f"{RESULTS}/tables"
    if name == "ablations":
        files = [f"{tables}/table4_ablations.{ext}" for ext in ("csv", "md")] if ANALYSIS["ablations"] else []
        return files + ([f"{tables}/table3_no_paraphrase.{ext}" for ext in ("csv", "md")] if no_paraphrase_columns() else [])
    if name == "subexperts":
        return [f"{tables}/subexperts.csv", f"{RESULTS}/figures/subexperts.png"] if SWEEP else []
    if name == "capabilities":
        return [f"{tables}/{table}.{ext}" for table in ("table5_capability_subtasks", "table6_capability_tasks") for ext in ("csv", "md")] if CAPABILITY_MODEL else []
    if name == "routing":
        return [f"{tables}/routing.csv", f"{RESULTS}/figures/routing.png"] if ANALYSIS["routing"]["models"] else []
    raise ValueError(name)
