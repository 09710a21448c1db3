"""The Snakemake workflow: the demo DAG, config errors before any job, a real smoke run."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import shared_data_dir
from ucuie.records import read_records, read_schema

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--cores", "2"]


def snakemake(*args: str, cwd: Path = ROOT, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run Snakemake; ``.stdout`` holds everything it printed (it logs errors to either stream)."""
    return subprocess.run([*SNAKEMAKE, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a (dry) run: rule -> number of jobs."""
    stats = output[output.index("Job stats:") :]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)}


def test_demo_dry_run_lists_data_paraphrase_and_scoring_steps(tmp_path):
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(ROOT / "config.yaml"), "--replace-workflow-config")
    assert run.returncode == 0, run.stdout
    counts = job_counts(run.stdout)
    demo = yaml.safe_load((ROOT / "config.yaml").read_text())
    n_datasets = len(demo["data"]["datasets"])
    n_held_out = sum(bool(spec.get("held_out")) for spec in demo["data"]["datasets"].values())
    low = demo["data"]["low_resource"]
    assert counts["backbone"] == 1 and counts["demo_corpus"] == 1 and counts["paraphrase"] == 1
    assert counts["convert"] == n_datasets
    assert counts["instances"] == 3 * (n_datasets - n_held_out) + n_held_out
    assert counts["low_resource"] == len(low["datasets"]) * len(low["fractions"]) * len(low["seeds"])
    assert counts["predict_backbone"] == counts["score"] == n_datasets
    assert counts["table"] == 1


def test_workflow_passes_snakemake_lint():
    run = snakemake("--lint")
    assert run.returncode == 0 and "Congratulations, your workflow is in a good condition!" in run.stdout, run.stdout


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("seed=abc", "config key 'seed' is invalid: 'abc' is not of type 'integer'"),
        ("trainig=1", "config key 'trainig' is not known at the top level"),
        ("instructions={backend: gpt}", "config key 'instructions.backend' is invalid"),
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


def test_public_config_dry_run_converts_every_dataset(tmp_path):
    if not shared_data_dir().is_dir():
        pytest.skip("the public datasets (../shared/data) are not on this machine")
    config = yaml.safe_load((ROOT / "configs/public.yaml").read_text())
    for spec in config["data"]["datasets"].values():
        spec["path"] = str(shared_data_dir() / Path(spec["path"]).name)
    (tmp_path / "public.yaml").write_text(yaml.safe_dump(config))
    run = snakemake("-n", "--directory", str(tmp_path), "--configfile", str(tmp_path / "public.yaml"), "--replace-workflow-config")
    assert run.returncode == 0, run.stdout
    counts = job_counts(run.stdout)
    assert counts["convert"] == len(config["data"]["datasets"]) and "demo_corpus" not in counts


@pytest.mark.slow
def test_smoke_config_runs_data_instructions_and_baseline(tmp_path):
    args = ("--directory", str(tmp_path), "--configfile", str(ROOT / "configs/smoke.yaml"), "--replace-workflow-config")
    run = snakemake(*args)
    assert run.returncode == 0, run.stdout[-3000:]
    results = tmp_path / "results" / "smoke"
    config = yaml.safe_load((ROOT / "configs/smoke.yaml").read_text())
    for name, spec in config["data"]["datasets"].items():
        schema = read_schema(results / "data" / name / "schema.json")
        test = read_records(results / "data" / name / "test.jsonl")  # validates every record
        assert test and all(frame.type in schema.frames for r in test for frame in r.frames)
        train = read_records(results / "data" / name / "train.jsonl")
        assert (len(train) == 0) == bool(spec.get("held_out"))
        assert (tmp_path / "logs" / "smoke" / "convert" / f"{name}.log").is_file()
    low = read_records(results / "data" / "news_ner" / "train.low-0.25.seed-13.jsonl")
    assert len(low) == round(0.25 * len(read_records(results / "data" / "news_ner" / "train.jsonl")))
    table = (results / "tables" / "backbone.md").read_text()
    assert "news_ner" in table and "zero-shot" in table and "Average" in table
    assert (results / "benchmarks" / "demo_corpus.tsv").is_file()

    again = snakemake(*args)
    assert again.returncode == 0 and "Nothing to be done" in again.stdout
