"""The SLURM profile (profiles/slurm) through the real executor plugin, with stand-in SLURM commands.

``tests/slurm_standin.py`` puts ``sbatch``, ``sacct``, ... on PATH: ``sbatch`` records its
arguments and runs the job there and then.  The profile is copied and its CHANGE_ME keys filled,
as a user would, and the training rule is given two GPUs: the train job then runs two DDP
processes (on CPUs here) under ``accelerate launch``.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from slurm_standin import install, read_calls

ROOT = Path(__file__).resolve().parents[1]
PROFILE = ROOT / "profiles" / "slurm" / "config.yaml"
ACCOUNT = "ie-lab"

pytest.importorskip("snakemake_executor_plugin_slurm", reason="install the slurm extra: pip install -e '.[slurm]'")


def user_profile(folder: Path, **set_resources) -> Path:
    """The shipped profile with the keys a user must set, plus per-rule overrides."""
    text = PROFILE.read_text()
    for key, value in {"CHANGE_ME_account": ACCOUNT, "CHANGE_ME_cpu_partition": "cpu", "CHANGE_ME_gpu_partition": "gpu"}.items():
        assert key in text, f"the profile no longer has the placeholder {key}"
        text = text.replace(key, value)
    profile = yaml.safe_load(text)
    for rule, resources in set_resources.items():
        profile["set-resources"][rule] = {**profile["set-resources"][rule], **resources}
    folder.mkdir(parents=True)
    (folder / "config.yaml").write_text(yaml.safe_dump(profile))
    return folder


def run_snakemake(tmp_path: Path, profile: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, **install(tmp_path / "bin", tmp_path / "slurm"), "STANDIN_SLURM_ACCOUNT": ACCOUNT}
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--profile", str(profile),
               "--directory", str(tmp_path / "work"), "--configfile", str(ROOT / "configs" / "smoke.yaml"), "--replace-workflow-config", *args]
    return subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=900)


def dry_run_resources(output: str) -> dict[str, dict[str, str]]:
    """rule -> its resources as the dry run prints them (the last job of the rule)."""
    found = {}
    for block in re.split(r"\n(?:rule|checkpoint) ", output)[1:]:
        rule = block.split(":", 1)[0]
        match = re.search(r"^\s+resources: (.*)$", block, re.MULTILINE)
        if match:
            found[rule] = dict(item.split("=", 1) for item in match.group(1).split(", "))
    return found


TRAINING = {"gpu": "1", "cpus_per_gpu": "8", "mem_mb": "64000", "runtime": "2880", "slurm_partition": "gpu"}
PREDICTION = {"gpu": "1", "cpus_per_gpu": "8", "mem_mb": "48000", "runtime": "720", "slurm_partition": "gpu"}


def test_dry_run_gives_every_rule_family_its_resources(tmp_path):
    run = run_snakemake(tmp_path, user_profile(tmp_path / "profile"), "-n")
    assert run.returncode == 0, run.stdout
    resources = dry_run_resources(run.stdout)
    expected = {
        **dict.fromkeys(["warm", "train", "lda_train", "lda_baseline"], TRAINING),
        **dict.fromkeys(["predict_backbone", "predict_model", "predict_robustness", "lda_losses", "lda_dev"], PREDICTION),
        "paraphrase": {"gpu": "1", "cpus_per_gpu": "4", "mem_mb": "32000", "runtime": "240", "slurm_partition": "gpu"},
        "backbone": {"mem_mb": "32000", "runtime": "120", "slurm_partition": "cpu"},
        **dict.fromkeys(["convert", "instances", "subtask_instances", "perturb_ner", "augmented_instances"], {"mem_mb": "8000", "runtime": "60", "slurm_partition": "cpu"}),
    }
    for rule, wanted in expected.items():
        assert rule in resources, f"no {rule} job in the dry run"
        got = resources[rule]
        assert {key: got.get(key) for key in wanted} == wanted, rule
        assert got["slurm_account"] == ACCOUNT
        if "gpu" not in wanted:
            assert "gpu" not in got, f"{rule} asks for a GPU"


@pytest.mark.slow
def test_submission_passes_each_rule_its_flags_and_trains_on_the_gpus_it_gets(tmp_path):
    # Find the path of one prediction of the trained model, then make it through sbatch.
    profile = user_profile(tmp_path / "profile", train={"gpu": 2})
    dry = run_snakemake(tmp_path, profile, "-n")
    target = re.search(r"results/smoke/predictions/uc-uie/\w+/full/seed-13/news_ner\.jsonl", dry.stdout).group(0)
    run = run_snakemake(tmp_path, profile, "--slurm-init-seconds-before-status-checks", "1", target)
    assert run.returncode == 0, run.stdout[-5000:]
    work = tmp_path / "work"
    assert (work / target).is_file()

    calls = read_calls(tmp_path / "slurm")
    assert all(call["returncode"] == 0 for call in calls)
    by_rule: dict[str, list[dict]] = {}
    for call in calls:
        by_rule.setdefault(call["rule"], []).append(call["flags"])
    assert {"backbone", "demo_corpus", "convert", "paraphrase", "instances", "subtask_instances", "warm", "train", "predict_model"} <= set(by_rule)

    def flags(rule: str) -> dict[str, str]:
        """The resource flags every job of ``rule`` was submitted with (the same for all of them)."""
        seen = [{key: f.get(key) for key in ("-A", "-p", "--gpus", "--cpus-per-gpu", "--cpus-per-task", "--mem", "-t")} for f in by_rule[rule]]
        assert all(f == seen[0] for f in seen), rule
        assert seen[0].pop("-A") == ACCOUNT
        return seen[0]

    gpu = lambda gpus, cpus, mem, minutes: {"-p": "gpu", "--gpus": gpus, "--cpus-per-gpu": cpus, "--cpus-per-task": None, "--mem": mem, "-t": minutes}  # noqa: E731
    cpu = lambda mem, minutes: {"-p": "cpu", "--gpus": None, "--cpus-per-gpu": None, "--cpus-per-task": "1", "--mem": mem, "-t": minutes}  # noqa: E731
    assert flags("warm") == gpu("1", "8", "64000", "2880")
    assert flags("train") == gpu("2", "8", "64000", "2880")
    assert flags("predict_model") == gpu("1", "8", "48000", "720")
    assert flags("paraphrase") == gpu("1", "4", "32000", "240")
    assert flags("backbone") == cpu("32000", "120")
    for rule in ("demo_corpus", "convert", "instances", "subtask_instances"):
        assert flags(rule) == cpu("8000", "60"), rule

    # The train job was given two GPUs, so it trained as two DDP processes under accelerate launch.
    summary = next(work.glob("results/smoke/models/uc-uie/*/full/seed-13/summary.json"))
    assert json.loads(summary.read_text())["processes"] == 2
    warm_summary = next(work.glob("results/smoke/warming/full/*/seed-13/summary.json"))
    assert json.loads(warm_summary.read_text())["processes"] == 1
    train_log = next(work.glob("logs/smoke/train/uc-uie-*-full-seed-13.log")).read_text()
    assert "accelerate.commands.launch --multi_gpu --num_processes 2" in train_log
