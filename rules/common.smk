# Config validation and the helpers every rule file uses.
import re
from pathlib import Path

from ucuie.config import ConfigError, validate_config
from ucuie.data.demo import load_corpus

if not workflow.overwrite_configfiles:
    configfile: "config.yaml"


def _check_not_merged():
    # Snakemake deep-merges --configfile into config.yaml: a complete config (one naming its
    # own `run`) would silently inherit the default's datasets. Partial overlays are fine.
    if workflow.config_settings.replace_workflow_config:
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

wildcard_constraints:
    dataset="|".join(map(re.escape, DATASETS)) if DATASETS else "NONE",
    split="train|dev|test",


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
    low = config["data"]["low_resource"]
    for dataset in low["datasets"]:
        files += expand(
            f"{RESULTS}/data/{dataset}/train.low-{{fraction}}.seed-{{seed}}.jsonl",
            fraction=low["fractions"],
            seed=low["seeds"],
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
