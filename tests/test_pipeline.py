"""The whole smoke config through the Snakemake API: data to tables, caching, reruns, the report."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from snakemake.api import ConfigSettings, DAGSettings, ExecutionSettings, OutputSettings, ResourceSettings, SnakemakeApi

from transformers import AutoTokenizer

from ucuie.perturb import PERTURBATIONS, TYPE_NAMES
from ucuie.records import read_records, read_schema
from ucuie.train import encode_examples, load_instances

ROOT = Path(__file__).resolve().parents[1]
SMOKE = ROOT / "configs" / "smoke.yaml"


def run_workflow(workdir: Path, config: dict | None = None) -> list[str]:
    """Run the default target of the smoke config in ``workdir``; returns the files it (re)built."""
    updated: list[str] = []
    with SnakemakeApi(OutputSettings(quiet=None)) as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(cores=2),
            config_settings=ConfigSettings(configfiles=[SMOKE], config=config or {}, replace_workflow_config=True),
            snakefile=ROOT / "Snakefile",
            workdir=workdir,
        )
        workflow.dag(DAGSettings()).execute_workflow(executor="local", execution_settings=ExecutionSettings(), updated_files=updated)
    return updated


def families(files: list[str]) -> set[str]:
    """The output folders of rebuilt files: ``results/smoke/<family>/...`` -> family."""
    return {Path(f).parts[2] if f.startswith("results/") else Path(f).parts[0] for f in files}


@pytest.mark.slow
def test_smoke_config_end_to_end_with_caching_and_reruns(tmp_path):
    built = run_workflow(tmp_path)
    results = tmp_path / "results" / "smoke"
    config = yaml.safe_load(SMOKE.read_text())

    # Data: every dataset converted and validated; held-out ones have no training split.
    for name, spec in config["data"]["datasets"].items():
        schema = read_schema(results / "data" / name / "schema.json")
        test = read_records(results / "data" / name / "test.jsonl")
        assert test and all(frame.type in schema.frames for r in test for frame in r.frames)
        assert (len(read_records(results / "data" / name / "train.jsonl")) == 0) == bool(spec.get("held_out"))
        assert (tmp_path / "logs" / "smoke" / "convert" / f"{name}.log").is_file()
    low = read_records(results / "data" / "news_ner" / "train.low-0.25.seed-13.jsonl")
    assert len(low) == round(0.25 * len(read_records(results / "data" / "news_ner" / "train.jsonl")))

    # Training: warming then stage 2, with logs, for both supervised variants and the low-resource run.
    summaries = sorted(results.glob("models/*/*/*/seed-13/summary.json"))
    assert {p.relative_to(results / "models").parts[::2][:2] for p in summaries} == {("uc-uie", "full"), ("uc-uie-h", "full"), ("uc-uie", "low-0.25")}
    # uc-uie and uc-uie-h share the full set's warming run (warming never runs the task router).
    assert len(list(results.glob("warming/*/*/seed-13/adapter/adapter_model.safetensors"))) == 2
    log = pd.read_csv(next(results.glob("models/uc-uie/*/full/seed-13/log.csv")))
    assert list(log["step"]) == list(range(1, len(log) + 1)) and log["bce"].gt(0).all()

    # Tables in the paper's layout: backbone first, then the models; every dataset and the Average.
    table1 = pd.read_csv(results / "tables" / "table1_supervised.csv")
    assert [c for c in table1.columns if not c.endswith(" std")][4:] == ["backbone", "uc-uie-h", "uc-uie"]
    trained = [n for n, s in config["data"]["datasets"].items() if not s.get("held_out")]
    assert set(table1["dataset"]) == {*trained, "average", "Average"}
    table2 = pd.read_csv(results / "tables" / "table2_low_resource.csv")
    assert [c for c in table2.columns if not c.endswith(" std")][4:] == ["backbone", "25%", "100%"]
    table3 = pd.read_csv(results / "tables" / "table3_zero_shot.csv")
    assert set(table3["dataset"]) == {"sports_ner", "restaurant_absa", "average", "Average"}
    assert "| backbone |" in (results / "tables" / "table1_supervised.md").read_text().replace("   ", " ").replace("  ", " ")
    for figure in ("results.png", "training.png"):
        assert (results / "figures" / figure).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Every job's timing, in a folder per rule (ucuie bench-pipeline sums them per rule family).
    assert (results / "benchmarks" / "demo_corpus" / "demo_corpus.tsv").is_file()
    assert {p.name for p in (results / "benchmarks").iterdir()} >= {"backbone", "convert", "instances", "warm", "train", "predict_model", "score", "figures"}

    # RUIE-Bench: every NER/RE/EE dataset perturbed by every type of its task, validated and
    # counted; the robustness table has each type's row per dataset for both supervised models.
    robustness = pd.read_csv(results / "tables" / "robustness.csv")
    bench = [n for n in config["data"]["datasets"] if n != "restaurant_absa"]
    assert set(robustness["dataset"]) == {*bench, "average"}
    for dataset, task in (("news_ner", "ner"), ("news_re", "re"), ("business_ee", "ee")):
        rows = robustness[robustness["dataset"] == dataset]
        assert list(rows["type"]) == ["Clean"] + [TYPE_NAMES[kind] for kind in PERTURBATIONS[task]]
        report = json.loads((results / "robustness" / "bench" / dataset / "report.json").read_text())
        assert list(report) == list(PERTURBATIONS[task])
        sources = read_records(results / "robustness" / "bench" / dataset / "sources.jsonl")
        assert len(sources) == 4  # smoke: 8 NER sentences over two datasets, 4 RE and 4 ED over one each
        for kind, entry in report.items():
            copies = read_records(results / "robustness" / "bench" / dataset / f"{kind}.jsonl")
            assert len(copies) == entry["accepted"] and entry["accepted"] + entry["not_applicable"] + entry["rejected"] == len(sources)
    assert [c for c in robustness.columns if c.startswith("uc-uie")] == ["uc-uie F1", "uc-uie drop %"]  # robustness.models
    assert "## Typo Injection" in (results / "robustness" / "bench" / "news_ner" / "examples.md").read_text()
    assert (results / "figures" / "robustness.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # LDA: exactly two rounds (smoke: delta 0, max_rounds 2), each selecting the top beta_t per
    # dataset by loss; baselines and the final model evaluated on the benchmark.
    final_path = next(results.glob("lda/uc-uie/*/*/seed-13/final-*/final.json"))
    seed_dir = final_path.parent.parent
    final = json.loads(final_path.read_text())
    assert [r["round"] for r in final["rounds"]] == [1, 2] and final["final_round"] == 2
    assert final["fraction_used"] == pytest.approx(0.15) and len(final["dev_f1"]) == 3
    # Every perturbed training copy with at least one frame is a candidate (empty ones are left out).
    augmented = sum(bool(r.frames) for p in results.glob("robustness/train/*/*.jsonl") if p.stem != "sources" for r in read_records(p))
    # A sample scores NaN exactly when max_length cuts its whole target away; it is never selected.
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "resources" / "backbone" / "tiny-llama")
    _, stats = encode_examples(tokenizer, load_instances(sorted(results.glob("lda/augmented/*.jsonl"))), config["training"]["max_length"])
    for round_number, beta in ((1, 0.1), (2, 0.05)):
        folder = seed_dir / f"round-{round_number}"
        losses = pd.read_csv(folder / "losses.csv")
        assert len(losses) == augmented and set(losses[losses["loss"].isna()]["id"]) == set(stats.dropped)
        assert losses["loss"].notna().mean() > 0.5  # smoke max_length 128 cuts some long EE samples
        selection = pd.read_csv(folder / "selection.csv")
        for dataset, group in losses.dropna(subset=["loss"]).groupby("dataset"):
            hardest = set(group.sort_values(["loss", "id"], ascending=[False, True])["id"][: math.ceil(beta * len(group) - 1e-9)])
            assert set(selection[selection["dataset"] == dataset]["id"]) == hardest
        assert final["rounds"][round_number - 1]["accepted"]
    lda = pd.read_csv(results / "tables" / "lda.csv")
    assert {"M0 F1", "all augmented F1", "random F1", "LDA F1", "LDA vs M0 %"} <= set(lda.columns)
    assert set(lda["setting"].dropna()) == {"seen", "unseen"} and set(lda["task"].dropna()) == {"NER", "RE", "ED"}
    used = lda[lda["type"] == "augmented data used (%)"].iloc[0]
    assert (used["M0 F1"], used["all augmented F1"], used["LDA F1"]) == (0.0, 100.0, 15.0)
    assert (results / "figures" / "lda.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A second run has nothing to do.
    assert run_workflow(tmp_path) == []

    # One training hyper-parameter changed: only stage 2 and what reads it run again.
    changed = run_workflow(tmp_path, {"training": {"lr": 0.002}})
    assert families(changed) == {"models", "predictions", "scores", "tables", "figures", "robustness", "lda"}
    assert not any("/robustness/bench/" in f for f in changed)  # the benchmark does not depend on training
    assert not any("/warming/" in f or "/backbone/" in f for f in changed)
    assert len(sorted(results.glob("models/uc-uie/*/full/seed-13/summary.json"))) == 2  # the old model is kept

    # Changed back: the first models are found again; only the tables and figures are redrawn.
    reverted = run_workflow(tmp_path)
    assert families(reverted) == {"tables", "figures"}

    # The HTML report collects the tables and figures.
    report = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--cores", "1", "--configfile", str(SMOKE),
         "--replace-workflow-config", "--report", "report.html"],
        cwd=tmp_path, capture_output=True, text=True,
    )
    assert report.returncode == 0, report.stderr[-2000:]
    html = (tmp_path / "report.html").read_text(errors="replace")
    assert "table1_supervised.csv" in html and "results.png" in html
    assert "robustness.png" in html and "lda.png" in html

    # One more LDA round allowed: round 3 runs; rounds 1 and 2 are only re-decided, never retrained.
    finished = {p: p.stat().st_mtime_ns for p in seed_dir.glob("round-[012]/*") if p.suffix in (".csv", ".json")}
    finished.update({p: p.stat().st_mtime_ns for p in seed_dir.glob("round-[12]/adapter/*")})
    run_workflow(tmp_path, {"lda": {"max_rounds": 3}})
    assert {p: p.stat().st_mtime_ns for p in finished} == finished
    assert {f"{p.parent.name}/{p.name}" for p in finished} >= {"round-0/dev.json", "round-1/losses.csv", "round-2/selection.csv", "adapter/adapter_model.safetensors"}
    assert (seed_dir / "round-3" / "adapter" / "adapter_model.safetensors").is_file()
    final = json.loads(next(p for p in seed_dir.glob("final-*/final.json") if p != final_path).read_text())
    assert final["final_round"] == 3 and final["fraction_used"] == pytest.approx(0.175)
