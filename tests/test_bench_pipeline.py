"""``ucuie bench-pipeline``: benchmark files per rule family, and the two training loops it compares."""

from __future__ import annotations

import argparse
import json
import random

import pytest

from ucuie.bench_pipeline import FAMILIES, bench_training, family_of, family_summary, read_benchmarks
from ucuie.prompts import Instance

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write(path, seconds):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + f"{seconds}\t0:00:01\t100.5\t1\t1\t1\t0\t0\t50\t1\n")


def test_benchmarks_are_summed_per_rule_family(tmp_path):
    write(tmp_path / "train" / "uc-uie-a-full-seed-13.tsv", 120)
    write(tmp_path / "train" / "uc-uie-h-a-full-seed-13.tsv", 60)
    write(tmp_path / "warm" / "full-b-seed-13.tsv", 30)
    write(tmp_path / "predict_model" / "predict" / "x.tsv", 12)
    write(tmp_path / "new_rule" / "y.tsv", 3)
    table = read_benchmarks(tmp_path)
    assert len(table) == 5 and set(table["rule"]) == {"train", "warm", "predict_model", "new_rule"}
    rows = {row["family"]: row for row in family_summary(table)}
    assert list(rows) == ["training", "prediction", "other"]  # FAMILIES order, unknown rules last
    assert rows["training"]["jobs"] == 3 and rows["training"]["job_minutes"] == pytest.approx(3.5)
    assert rows["training"]["longest"] == "train/uc-uie-a-full-seed-13.tsv" and rows["training"]["longest_job_s"] == 120
    assert rows["other"]["rules"] == "new_rule"
    (tmp_path / "empty" / "z.tsv").parent.mkdir()
    (tmp_path / "empty" / "z.tsv").write_text(HEADER)
    with pytest.raises(ValueError, match="empty/z.tsv has no measurement row"):
        read_benchmarks(tmp_path)


def test_every_workflow_rule_has_a_family():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rules = set()
    for path in (root / "rules").glob("*.smk"):
        text = path.read_text()
        rules |= set(re.findall(r"^(?:rule|checkpoint) (\w+):", text, re.MULTILINE))
        rules |= set(re.findall(r"^use rule \w+ as (\w+)", text, re.MULTILINE))
        rules |= {f"perturb_{task}" for task in ("ner", "re", "ee")} if "perturb_{_task}" in text else set()
    assert {rule for rule in rules if family_of(rule) == "other"} == set()
    assert all(rule in rules for family in FAMILIES.values() for rule in family)


def test_ours_and_the_trainer_train_the_same_lora_on_the_same_data(tiny_backbone, tmp_path):
    rng = random.Random(0)
    words = "alpha beta gamma delta river stone market city".split()
    path = tmp_path / "train.jsonl"
    path.write_text("".join(json.dumps(Instance(f"s{i}", "toy", "ner", "List the entities.", "{person: []}",
                                                " ".join(rng.choice(words) for _ in range(rng.randint(2, 12))), "[person: Alpha]").to_json()) + "\n"
                            for i in range(24)))
    args = argparse.Namespace(steps=3, batch=4, max_length=128, lr=1e-3, seed=13, rounds=1, threads=1)
    result = bench_training(args, tiny_backbone, [path])
    ours, trainer = result["runs"]["ours"][0], result["runs"]["trainer"][0]
    assert ours["trainable"] == trainer["trainable"] == result["trainable_parameters"] > 0
    assert ours["tokens"] > 0 and trainer["tokens"] > 0 and ours["seconds"] > 0 and trainer["seconds"] > 0
    assert result["throughput_ratio"] == pytest.approx(result["ours_tokens_per_s"] / result["trainer_tokens_per_s"], rel=1e-2)
    padding = result["padding"]
    assert 0 <= padding["length_grouped"] < padding["shuffled"]  # length grouping pads less than shuffled batches
