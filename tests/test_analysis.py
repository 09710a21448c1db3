"""The analysis experiments: Tables 4-6 and Figures 5-6 from scores, forced expert masks on the
adapter's recorded gates, routing-weight sampling, and each analysis target on the smoke config."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from ucuie.adapter import HierarchicalMoEConfig, attach_adapter, force_capabilities, record_routing_weights, routing
from ucuie.analysis import (
    IE_ROWS,
    ablation_table,
    capability_table,
    mean_over_seeds,
    routing_figure,
    sample_routing_weights,
    subexpert_figure,
    subexpert_table,
    subtask_rows,
)
from ucuie.backbone import load_backbone
from ucuie.predict import predict
from ucuie.prompts import Instance
from ucuie.tasks import COMBINATIONS, capabilities_of_combination
from ucuie.train import collate, encode_examples

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n"


def scored(dataset: str, task: str, metric: str, tp: int, fp: int, fn: int) -> dict:
    counts = {"tp": tp, "fp": fp, "fn": fn}
    return {"dataset": dataset, "task": task, "metric": metric, "offset": counts, "string": counts}


def result(*rows: dict) -> dict:
    return {"scores": list(rows), "counts": {}, "summary": ""}


def supervised_run(ner: int, re: int, trig: int, arg: int) -> list[dict]:
    """One seed's score files: two NER datasets, one RE, one EE (trigger and argument)."""
    return [
        result(scored("a_ner", "ner", "entity", ner, 10 - ner, 10 - ner)),
        result(scored("b_ner", "ner", "entity", 10, 0, 0)),
        result(scored("c_re", "re", "triple", re, 10 - re, 10 - re)),
        result(scored("d_ee", "ee", "trigger", trig, 10 - trig, 10 - trig), scored("d_ee", "ee", "argument", arg, 10 - arg, 10 - arg)),
    ]


# --- tables and figures -----------------------------------------------------------------------


def test_ablation_table_has_the_papers_rows_and_columns():
    methods = ["uc-uie", "uc-uie-h", "no-shared", "lora", "lora-moe", "no-warming", "no-entropy", "no-bce"]
    columns = {m: [supervised_run(9 - i % 4, 8, 7, 6), supervised_run(9 - i % 4, 6, 7, 6)] for i, m in enumerate(methods)}
    table = ablation_table(columns)
    assert list(table["method"]) == methods
    assert [c for c in table.columns if not c.endswith(" std")] == ["method", "NER", "RE", "ED", "EAE", "Average"]
    first = table.iloc[0]
    assert first["NER"] == pytest.approx((90 + 100) / 2)  # task average over the NER datasets
    assert first["RE"] == pytest.approx(70) and first["RE std"] == pytest.approx(10)  # seeds 80 and 60
    assert first["ED"] == pytest.approx(70) and first["EAE"] == pytest.approx(60)
    # Average: Table 1's, over every (dataset, metric): (90 + 100 + 70 + 70 + 60) / 5 per seed.
    assert first["Average"] == pytest.approx((90 + 100 + 70 + 70 + 60) / 5)
    assert table.iloc[1]["NER"] == pytest.approx((80 + 100) / 2)


def test_capability_tables_have_a_row_per_task_and_a_column_per_expert_setting():
    settings = [*COMBINATIONS, "soft"]
    subtasks = {s: [[result(scored("a_ner", cap, cap, 5 + i, 5 - i, 5 - i)) for cap in ("judging", "locating")]
                    + [result(scored("c_re", cap, cap, 5, 5, 5)) for cap in ("judging", "locating", "associating")]] for i, s in enumerate(settings[:5])}
    subtasks.update({s: subtasks["J"] for s in settings[5:]})
    table5 = capability_table(subtasks, subtask_rows())
    assert list(table5["task"]) == ["Judging", "Locating", "Associating"]
    assert [c for c in table5.columns if not c.endswith(" std")] == ["task", *settings]
    assert table5.set_index("task").loc["Judging", "J+L"] == pytest.approx((80 + 50) / 2)  # i = 3: 8/10 on a_ner, 5/10 on c_re
    assert table5.set_index("task").loc["Associating", "J"] == pytest.approx(50)  # only c_re has it
    tasks = {s: [supervised_run(7, 6, 5, 4)] for s in settings}
    table6 = capability_table(tasks, IE_ROWS)
    assert list(table6["task"]) == ["NER", "RE", "EAE"]
    assert table6.set_index("task").loc["EAE", "soft"] == pytest.approx(40)


def test_combinations_name_their_capabilities():
    assert capabilities_of_combination("J+L+A") == ["judging", "locating", "associating"]
    assert capabilities_of_combination("A") == ["associating"]
    with pytest.raises(ValueError, match="'J\\+X'"):
        capabilities_of_combination("J+X")


def test_subexpert_table_and_figure(tmp_path):
    columns = {
        "supervised": {q: [supervised_run(q, 5, 5, 5)] for q in (1, 2, 4)},
        "zero-shot": {q: [[result(scored("z_ner", "ner", "entity", q + 2, 1, 1))]] for q in (1, 2, 4)},
    }
    table = subexpert_table(columns, held_out=["z_ner"])
    assert set(table["setting"]) == {"supervised", "zero-shot"} and sorted(set(table["Q"])) == [1, 2, 4]
    ner = table[(table["setting"] == "supervised") & (table["label"] == "NER entity")].set_index("Q")["F1"]
    assert ner[1] == pytest.approx((10 + 100) / 2) and ner[4] == pytest.approx((40 + 100) / 2)
    assert "Average" in set(table["label"])
    out = tmp_path / "subexperts.png"
    subexpert_figure(table, out)
    assert out.read_bytes()[:8] == PNG


def test_routing_figure_averages_seeds(tmp_path):
    one = {"tokens": {"ner": 10}, "weights": {"ner": {"judging": [0.5, 0.5], "locating": [1.0, 0.0]}}}
    two = {"tokens": {"ner": 10}, "weights": {"ner": {"judging": [0.7, 0.3], "locating": [0.0, 1.0]}}}
    frame = mean_over_seeds([one, two])
    assert list(frame.index) == ["NER-judging", "NER-locating"] and list(frame.columns) == ["E1", "E2"]
    assert frame.loc["NER-judging", "E1"] == pytest.approx(0.6) and frame.loc["NER-locating", "E2"] == pytest.approx(0.5)
    out = tmp_path / "routing.png"
    routing_figure({"uc-uie": frame, "no-entropy": frame}, 10, out)
    assert out.read_bytes()[:8] == PNG


# --- the adapter under forced masks -------------------------------------------------------------


def instances(n: int, task: str, seed: int = 0) -> list[Instance]:
    rng = random.Random(seed)
    words = "alpha beta gamma delta river stone market city".split()
    return [Instance(f"{task}{i}", "toy", task, "List the entities.", "{person: []}", " ".join(rng.choice(words) for _ in range(6)), "[person: Alpha]") for i in range(n)]


def test_forced_masks_change_which_experts_run(tiny_backbone):
    model, tokenizer = load_backbone(tiny_backbone)
    attach_adapter(model, HierarchicalMoEConfig(sub_experts=2))
    torch.manual_seed(0)
    for name, parameter in model.named_parameters():
        if "lora_up" in name:  # a fresh adapter's up-projections are zero: give the experts an effect
            torch.nn.init.normal_(parameter, std=0.5)
    examples, _ = encode_examples(tokenizer, instances(3, "re"), None)
    batch = collate(examples, tokenizer.eos_token_id)

    def run(capabilities):
        with record_routing_weights(model) as record, routing(model, instruction_mask=batch["instruction_mask"], attention_mask=batch["attention_mask"], capability_labels=batch["capability_labels"]):
            if capabilities is None:
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            else:
                with force_capabilities(model, capabilities):
                    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return logits, record.mean_gates()

    outputs = {}
    for combination in COMBINATIONS:
        capabilities = capabilities_of_combination(combination)
        logits, gates = run(capabilities)
        assert gates, "no layer recorded its capability gates"
        for layer, by_capability in gates.items():
            assert by_capability == {c: (1.0 if c in capabilities else 0.0) for c in ("judging", "locating", "associating")}, layer
        outputs[combination] = logits
    soft_logits, soft_gates = run(None)
    assert all(0.0 < value < 1.0 for by_capability in soft_gates.values() for value in by_capability.values())
    # Different experts on, different outputs; the learned routing is none of the binary settings.
    for a in COMBINATIONS:
        assert not torch.allclose(outputs[a], soft_logits)
        for b in COMBINATIONS:
            if a < b:
                assert not torch.allclose(outputs[a], outputs[b]), (a, b)


def test_predict_with_forced_capabilities_records_those_gates(tiny_backbone):
    model, tokenizer = load_backbone(tiny_backbone)
    attach_adapter(model, HierarchicalMoEConfig(sub_experts=2))
    with record_routing_weights(model) as record:
        predict(model, tokenizer, instances(2, "ner"), batch_size=2, max_new_tokens={"ner": 3}, capabilities=["locating"])
    assert {tuple(g.values()) for g in record.mean_gates().values()} == {(0.0, 1.0, 0.0)}


def test_routing_weights_count_exactly_the_sampled_tokens(tiny_backbone):
    model, tokenizer = load_backbone(tiny_backbone)
    attach_adapter(model, HierarchicalMoEConfig(sub_experts=3))
    data = instances(6, "ner", seed=1) + instances(6, "re", seed=2)
    result = sample_routing_weights(model, tokenizer, data, tokens=40, batch_size=4, seed=13)
    assert result["tokens"] == {"ner": 40, "re": 40}
    assert set(result["weights"]["ner"]) == {"judging", "locating"}  # NER uses two capabilities
    assert set(result["weights"]["re"]) == {"judging", "locating", "associating"}
    for by_capability in result["weights"].values():
        for weights in by_capability.values():
            assert len(weights) == 3 and sum(weights) == pytest.approx(1.0)
    again = sample_routing_weights(model, tokenizer, data, tokens=40, batch_size=2, seed=13)
    assert again["weights"]["re"]["judging"] == pytest.approx(result["weights"]["re"]["judging"], abs=1e-6)  # batching does not matter
    more = sample_routing_weights(model, tokenizer, data, tokens=10_000, batch_size=4, seed=13)
    assert more["tokens"]["ner"] == sum(len(e) for e in encode_examples(tokenizer, data[:6], None)[0])  # all there is


# --- the targets on the smoke config ----------------------------------------------------------


def snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--cores", "2", "--directory", str(workdir),
               "--configfile", str(ROOT / "configs" / "smoke.yaml"), "--replace-workflow-config", *args]
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=1800)


@pytest.mark.slow
def test_smoke_config_builds_every_analysis_target(tmp_path):
    run = snakemake(tmp_path, "ablations", "subexperts", "capabilities", "routing")
    assert run.returncode == 0, run.stdout[-5000:]
    tables, figures = tmp_path / "results" / "smoke" / "tables", tmp_path / "results" / "smoke" / "figures"

    table4 = pd.read_csv(tables / "table4_ablations.csv")
    assert list(table4["method"]) == ["uc-uie", "uc-uie-h", "no-shared", "lora", "lora-moe", "no-warming", "no-entropy", "no-bce"]
    assert [c for c in table4.columns if not c.endswith(" std")] == ["method", "NER", "RE", "ED", "EAE", "Average"]
    assert table4[["NER", "RE", "ED", "EAE", "Average"]].notna().all().all()
    no_para = pd.read_csv(tables / "table3_no_paraphrase.csv")
    assert [c for c in no_para.columns if not c.endswith(" std")][4:] == ["uc-uie", "w/o Para."]
    assert set(no_para["dataset"]) == {"sports_ner", "restaurant_absa", "average", "Average"}
    # The w/o Para. model trained on base instructions only: none of its prompts is a paraphrase.
    base = json.loads((tmp_path / "results/smoke/instructions/base.json").read_text())["instructions"]
    trained_prompts = {json.loads(line)["instruction"] for line in (tmp_path / "results/smoke/instances-base/news_ner/train.jsonl").read_text().splitlines()}
    assert trained_prompts <= set(base["ner"])
    assert len(list((tmp_path / "results/smoke/models/uc-uie-no-para").glob("*/full/seed-13/summary.json"))) == 1

    sweep = pd.read_csv(tables / "subexperts.csv")
    assert set(sweep["setting"]) == {"supervised", "low-resource", "zero-shot"} and sorted(set(sweep["Q"])) == [1, 4]
    q1 = json.loads(next((tmp_path / "results/smoke/models/uc-uie-q1").glob("*/full/seed-13/summary.json")).read_text())
    assert q1["adapter"]["sub_experts"] == 1
    assert any((tmp_path / "results/smoke/models/uc-uie-q1").glob("*/low-0.25/seed-13/summary.json"))

    table5 = pd.read_csv(tables / "table5_capability_subtasks.csv")
    assert list(table5["task"]) == ["Judging", "Locating", "Associating"]
    assert [c for c in table5.columns if not c.endswith(" std")] == ["task", *COMBINATIONS, "soft"]
    table6 = pd.read_csv(tables / "table6_capability_tasks.csv")
    assert list(table6["task"]) == ["NER", "RE", "EAE"]

    routing_table = pd.read_csv(tables / "routing.csv")
    assert set(routing_table["model"]) == {"uc-uie", "no-entropy"}
    assert {"NER-judging", "NER-locating", "RE-associating", "EE-associating"} <= set(routing_table["task-capability"])
    for figure in ("subexperts.png", "routing.png"):
        assert (figures / figure).read_bytes()[:8] == PNG

    # Nothing left to do, and one ablation's model can be rebuilt alone by naming its file.
    assert "Nothing to be done" in snakemake(tmp_path, "ablations", "subexperts", "capabilities", "routing").stdout
    summary = next((tmp_path / "results/smoke/models/no-bce").glob("*/full/seed-13/summary.json"))
    rerun = snakemake(tmp_path, "-n", "--forcerun", "train", str(summary.relative_to(tmp_path)))
    assert rerun.returncode == 0 and "no-bce" in rerun.stdout and "uc-uie-q1" not in rerun.stdout
