"""Model variants, keys that decide what is retrained, and the paper-layout comparison tables."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ucuie.config import validate_config
from ucuie.experiments import VariantError, comparison_table, model_key, resolve_variant, settings_key, to_markdown, warming_settings

def config() -> dict:
    """The smoke config, validated (so every training key has its default), with four variants."""
    raw = yaml.safe_load((Path(__file__).resolve().parents[1] / "configs" / "smoke.yaml").read_text())
    raw["models"] = {"uc-uie": {}, "uc-uie-h": {"adapter": {"routing": "hard"}}, "fast": {"training": {"lr": 1e-2}}, "bad": {"adapter": {"rnak": 2}}}
    return validate_config(raw)


def scored(dataset: str, task: str, metric: str, tp: int, fp: int, fn: int) -> dict:
    counts = {"tp": tp, "fp": fp, "fn": fn}
    return {"dataset": dataset, "task": task, "metric": metric, "offset": counts, "string": counts}


def result(*rows: dict) -> dict:
    return {"scores": list(rows), "counts": {}, "summary": ""}


def test_variants_resolve_and_keys_follow_only_what_changes_the_weights():
    cfg = config()
    hard, fast = resolve_variant(cfg, "uc-uie-h"), resolve_variant(cfg, "fast")
    assert hard["adapter"]["routing"] == "hard" and fast["training"]["lr"] == 1e-2
    base = resolve_variant(cfg, "uc-uie")
    bookkeeping = {**base, "training": {**base["training"], "checkpoint_every": 99, "log_every": 1}}
    assert model_key(bookkeeping) == model_key(base) != model_key(fast)
    # Routing is never used in warming: soft and hard share one warming run; the lr of stage 2 too.
    assert settings_key(warming_settings(hard)) == settings_key(warming_settings(base)) == settings_key(warming_settings(fast))
    with pytest.raises(VariantError, match="models.bad.adapter"):
        resolve_variant(cfg, "bad")


def test_comparison_table_keeps_the_paper_order_with_mean_and_std_over_seeds():
    def seed(ner_tp: int) -> list[dict]:
        return [
            result(scored("b_ee", "ee", "trigger", 1, 1, 1), scored("b_ee", "ee", "argument", 2, 0, 2)),
            result(scored("a_re", "re", "triple", 1, 0, 1)),
            result(scored("z_ner", "ner", "entity", ner_tp, 10 - ner_tp, 10 - ner_tp)),
        ]

    table = comparison_table({"backbone": [seed(0)], "model": [seed(8), seed(6)]})
    assert list(zip(table["task"], table["metric"], table["dataset"])) == [
        ("ner", "entity", "z_ner"), ("ner", "entity", "average"),
        ("re", "triple", "a_re"), ("re", "triple", "average"),
        ("ee", "trigger", "b_ee"), ("ee", "trigger", "average"),
        ("ee", "argument", "b_ee"), ("ee", "argument", "average"),
        ("all", "all", "Average"),
    ]
    ner = table.iloc[0]
    assert (ner["backbone"], ner["model"], ner["model std"]) == (0.0, 70.0, 10.0)
    assert "| 70.00 ± 10.00 |" in to_markdown(table)
