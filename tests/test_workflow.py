"""The Snakemake workflow: the demo DAG, config errors before any job, a real smoke run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from ucuie.data.demo import load_corpus
from ucuie.records import read_records, read_schema
from ucuie.tasks import capabilities_of

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--cores", "2"]


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake; ``.stdout`` holds everything it printed (it logs errors to either stream)."""
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    stats = output[output.index("Job stats:") :]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)}


def dataset_tasks(config: dict) -> dict[str, str]:
    """The task of every configured dataset, as the config states it (demo corpus, key, format or folder)."""
    demo = {definition.name: definition.task for definition in load_corpus().datasets}
    by_format = {"conll_bio": "ner", "spert": "re", "phee": "ee", "casie": "ee", "aste": "absa"}
    tasks = {}
    for name, spec in config["data"]["datasets"].items():
        if spec["format"] == "demo":
            tasks[name] = demo[name]
        elif "task" in spec:
            tasks[name] = spec["task"]
        elif spec["format"] == "ie_instructions":
            tasks[name] = {"NER": "ner", "RE": "re", "EE": "ee"}[Path(spec["path"]).parent.name]
        else:
            tasks[name] = by_format[spec["format"]]
    return tasks


def expected_jobs(config: dict) -> dict[str, int]:
    """Jobs per rule of the default target, counted from the config the way the paper's experiments read."""
    datasets = config["data"]["datasets"]
    tasks = dataset_tasks(config)
    trained = [name for name, spec in datasets.items() if not spec.get("held_out")]
    low = config["data"].get("low_resource", {})
    seeds = len(config.get("training", {}).get("seeds", [13]))
    experiments = config.get("experiments", {"supervised": ["uc-uie-h", "uc-uie"], "low_resource": "uc-uie"})
    supervised = len(experiments["supervised"])
    low_datasets = low.get("datasets", []) if experiments["low_resource"] else []
    low_runs = len(low.get("fractions", [0.01, 0.05, 0.1])) * seeds if low_datasets else 0
    capabilities = lambda names: sum(len(capabilities_of(tasks[d])) for d in names)  # noqa: E731
    jobs = {
        "convert": len(datasets),
        "low_resource": len(low.get("datasets", [])) * len(low.get("fractions", [0.01, 0.05, 0.1])) * seeds,
        "instances": 3 * len(trained) + (len(datasets) - len(trained)) + len(low_datasets) * low_runs,
        "subtask_instances": (capabilities(trained) if supervised else 0) + capabilities(low_datasets) * low_runs,
        "predict_backbone": len(datasets),
        "table": 1,
        # uc-uie and uc-uie-h differ only in their routing, which warming never uses: one warming run.
        "warm": bool(supervised) * seeds + low_runs,
        "train": supervised * seeds + low_runs,
        "predict_model": supervised * seeds * len(datasets) + low_runs * len(low_datasets),
        "experiment_table": bool(supervised) + bool(low_runs) + bool(supervised and len(trained) < len(datasets)),
        "figures": 1,
    }
    jobs["score"] = jobs["predict_backbone"] + jobs["predict_model"]
    # RUIE-Bench: the benchmark sets of every NER, RE and EE dataset, evaluated per model and seed.
    robustness = config.get("robustness", {})
    bench = robustness.get("datasets") or [name for name in datasets if tasks[name] in ("ner", "re", "ee")]
    for task in ("ner", "re", "ee"):
        jobs[f"perturb_{task}"] = sum(tasks[name] == task for name in bench)
    jobs["robustness_instances"] = len(bench)
    evaluated = set(robustness.get("models") or experiments["supervised"])
    jobs["robustness_table"] = 1
    # LDA, when the default target includes it: a dry run shows round 1 only (the checkpoint
    # decides on more), M0's and round 1's dev scores, the baselines and the final model.
    lda = config.get("lda", {})
    lda_jobs = {"augmented_instances": 0, "lda_losses": 0, "lda_train": 0, "lda_dev": 0, "lda_final": 0, "lda_baseline": 0, "lda_table": 0}
    if lda.get("in_default_target"):
        augmented = [name for name in trained if tasks[name] in ("ner", "re", "ee")]
        for task in ("ner", "re", "ee"):
            jobs[f"perturb_{task}"] += sum(tasks[name] == task for name in augmented)
        lda_jobs = {"augmented_instances": len(augmented), "lda_losses": seeds, "lda_train": seeds, "lda_dev": 2 * seeds,
                    "lda_final": seeds, "lda_baseline": 2 * seeds, "lda_table": 1}
        evaluated |= {lda.get("model") or experiments["supervised"][0], "lda final", "lda all", "lda random"}
    jobs.update(lda_jobs)
    jobs["predict_robustness"] = jobs["score_robustness"] = len(evaluated) * seeds * len(bench)
    return jobs


def fake_data_tree(config: dict, root: Path) -> Path:
    """The config with its dataset folders moved under ``root`` and created empty there (enough for
    a dry run, which reads no data; the last two path parts stay, as IE INSTRUCTIONS reads the task
    from the parent folder). Returns the written config file."""
    for spec in config["data"]["datasets"].values():
        if "path" in spec:
            spec["path"] = str(Path("data") / Path(spec["path"]).parent.name / Path(spec["path"]).name)
            (root / spec["path"]).mkdir(parents=True, exist_ok=True)
    (root / "config.yaml").write_text(yaml.safe_dump(config))
    return root / "config.yaml"


@pytest.mark.parametrize("name", ["config.yaml", "configs/paper.yaml", "configs/public.yaml"])
def test_dry_run_lists_the_expected_jobs_per_rule(tmp_path, name):
    config = yaml.safe_load((ROOT / name).read_text())
    configfile = fake_data_tree(config, tmp_path)
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(configfile), "--replace-workflow-config")
    assert run.returncode == 0, run.stdout[-3000:]
    counts = job_counts(run.stdout)
    expected = expected_jobs(config)
    assert {rule: counts.get(rule, 0) for rule in expected} == expected
    assert counts["paraphrase"] == 1 and counts.get("backbone", 0) == 1


def test_paper_config_with_a_missing_dataset_folder_fails_before_any_job(tmp_path):
    config = yaml.safe_load((ROOT / "configs/paper.yaml").read_text())
    configfile = fake_data_tree(config, tmp_path)
    (tmp_path / config["data"]["datasets"]["fewrel"]["path"]).rmdir()
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(configfile), "--replace-workflow-config")
    assert run.returncode != 0 and "Job stats" not in run.stdout
    assert "config key 'data.datasets.fewrel.path': folder data/RE/FewRel does not exist" in run.stdout


def test_variants_with_the_same_warming_share_one_warming_run(tmp_path):
    config = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    config["models"] = {"uc-uie": {}, "no-entropy": {"training": {"beta": 0.0}}, "no-bce": {"training": {"gamma": 0.0}}, "faster": {"training": {"lr": 0.01}}}
    config.pop("analysis")  # it names models this test does not define
    config["experiments"] = {"supervised": ["uc-uie", "faster"], "low_resource": ""}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "--replace-workflow-config")
    assert run.returncode == 0, run.stdout
    counts = job_counts(run.stdout)
    # A stage-2 learning rate does not touch warming: two trained models, one warming run.
    assert counts["train"] == 2 and counts["warm"] == 1
    assert "experiment_table" in counts and counts["experiment_table"] == 2  # Tables 1 and 3; no Table 2


def test_lda_runs_on_a_plain_lora_model(tmp_path):
    config = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    config["models"] = {"uc-uie": {}, "uc-uie-h": {"adapter": {"routing": "hard"}},
                        "lora": {"adapter": {"capability_experts": []}, "training": {"warming": {"enabled": False}}}}
    config.pop("analysis")  # it names models this test does not define
    config["lda"]["model"] = "lora"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "lda", "--directory", str(tmp_path), "--configfile", str(tmp_path / "c.yaml"), "--replace-workflow-config")
    assert run.returncode == 0, run.stdout
    counts = job_counts(run.stdout)
    # M0 is the single-LoRA model (no warming); round 1 starts from it.
    assert counts["train"] == 1 and "warm" not in counts and counts["lda_losses"] == 1
    assert "results/smoke/models/lora/" in run.stdout and "results/smoke/lda/lora/" in run.stdout


def test_workflow_passes_snakemake_lint():
    run = snakemake("--lint")
    assert run.returncode == 0 and "Congratulations, your workflow is in a good condition!" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=abc", "config key 'seed' is invalid: 'abc' is not of type 'integer'"),
        ("trainig=1", "config key 'trainig' is not known at the top level"),
        ("training={lr: -1}", "config key 'training.lr' is invalid"),
        ("models={fast: {adapter: {rnak: 2}}}", "config key 'models.fast.adapter': adapter config key 'rnak' is not known"),
        ("experiments={supervised: [uc-uie-x]}", "config key 'experiments' names model 'uc-uie-x', which is not under 'models'"),
        ("instructions={backend: gpt}", "config key 'instructions.backend' is invalid"),
        ("analysis={ablations: [uc-uie, nope]}", "config key 'analysis.ablations' names model 'nope', which is not under 'models'"),
        ("analysis={capabilities: {combinations: [J+X]}}", "config key 'analysis.capabilities.combinations"),
    ],
)
def test_bad_config_stops_before_any_job(tmp_path, override, message):
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(ROOT / "configs/smoke.yaml"), "--replace-workflow-config", "--config", override)
    assert run.returncode != 0
    assert message in run.stdout
    assert "Job stats" not in run.stdout


def test_unknown_demo_dataset_and_missing_path_are_named(tmp_path):
    config = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    config["data"]["datasets"]["weather_ner"] = {"format": "demo"}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "a.yaml"), "--replace-workflow-config")
    assert run.returncode != 0 and "config key 'data.datasets.weather_ner': the demo corpus has no dataset 'weather_ner'" in run.stdout
    del config["data"]["datasets"]["weather_ner"]
    config["data"]["datasets"]["conll"] = {"format": "conll_bio", "path": str(tmp_path / "nowhere")}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "b.yaml"), "--replace-workflow-config")
    assert run.returncode != 0 and f"config key 'data.datasets.conll.path': folder {tmp_path / 'nowhere'} does not exist" in run.stdout


def test_complete_config_is_not_silently_merged(tmp_path):
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(ROOT / "configs/smoke.yaml"))
    assert run.returncode != 0
    assert "add --replace-workflow-config" in run.stdout
