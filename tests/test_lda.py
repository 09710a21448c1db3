"""Loss-guided Data Augmentation: selection of the hardest samples, the schedule, the stop rule, the table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from ucuie.lda import (
    Decision,
    annotated_copies,
    beta_schedule,
    decide,
    final_round,
    fraction_used,
    group_quota,
    loss_table,
    method_table,
    replay_sample,
    select_hardest,
    select_random,
)
from ucuie.records import Frame, Record, Span


def crafted_losses() -> pd.DataFrame:
    """Two datasets with losses chosen so the right picks are known by hand."""
    rows = [
        ("a-1~typo", "a", 0.5), ("a-2~typo", "a", 3.0), ("a-3~lowercase", "a", 1.0), ("a-4~lowercase", "a", 2.5),
        ("a-5~typo", "a", 0.1), ("a-6~lowercase", "a", 9.0), ("a-7~typo", "a", float("nan")), ("a-8~typo", "a", 2.0),
        ("a-9~typo", "a", 0.2), ("a-10~typo", "a", 0.3),
        ("b-1~typo", "b", 0.9), ("b-2~typo", "b", 0.8), ("b-3~lowercase", "b", 5.0), ("b-4~typo", "b", 0.7),
    ]
    return loss_table([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])


def test_loss_table_reads_the_type_from_the_id():
    table = crafted_losses()
    assert list(table.columns) == ["id", "dataset", "type", "loss"]
    assert table.set_index("id").loc["a-6~lowercase", "type"] == "lowercase"


def test_selection_picks_exactly_the_highest_losses_per_dataset():
    table = crafted_losses()
    # 10% of dataset a (10 samples) is 1 sample, of b (4) ceil(0.4) = 1; NaN is never picked.
    assert select_hardest(table, 0.1) == ["a-6~lowercase", "b-3~lowercase"]
    # 30%: a keeps its three highest (9.0, 3.0, 2.5), b ceil(1.2) = 2 (5.0, 0.9).
    assert select_hardest(table, 0.3) == ["a-6~lowercase", "a-2~typo", "a-4~lowercase", "b-3~lowercase", "b-1~typo"]
    # Every loss-bearing sample at 100%, the NaN one still left out.
    assert set(select_hardest(table, 1.0)) == set(table["id"]) - {"a-7~typo"}


def test_selection_per_dataset_and_type():
    picked = select_hardest(crafted_losses(), 0.2, granularity="dataset_type")
    # a/lowercase: 3 samples -> 1 (9.0); a/typo: 6 with a loss -> 2 (3.0, 2.0); b/lowercase -> 1; b/typo: 3 -> 1 (0.9).
    assert picked == ["a-6~lowercase", "a-2~typo", "a-8~typo", "b-3~lowercase", "b-1~typo"]
    with pytest.raises(ValueError, match="granularity"):
        select_hardest(crafted_losses(), 0.2, granularity="type")


def test_ties_break_by_id_so_the_selection_is_deterministic():
    table = loss_table(["x-2~typo", "x-1~typo", "x-3~typo"], ["x"] * 3, [1.0, 1.0, 0.5])
    assert select_hardest(table, 0.5) == ["x-1~typo", "x-2~typo"]


def test_random_selection_has_the_same_sizes_and_is_seeded():
    table = crafted_losses()
    first = select_random(table.drop(columns="loss"), 0.3, seed=4)
    assert len([i for i in first if i.startswith("a-")]) == group_quota(10, 0.3) == 3
    assert len([i for i in first if i.startswith("b-")]) == group_quota(4, 0.3) == 2
    assert first == select_random(table.drop(columns="loss"), 0.3, seed=4)
    assert any(select_random(table.drop(columns="loss"), 0.3, seed=s) != first for s in range(5, 10))


def test_beta_halves_every_round_and_fraction_used_sums_the_accepted_rounds():
    betas = beta_schedule(0.1, 4)
    assert betas == [0.1, 0.05, 0.025, 0.0125]
    assert fraction_used(betas, 2) == pytest.approx(0.15)  # the paper's "15% of the augmented data"
    assert fraction_used(betas, 0) == 0
    with pytest.raises(ValueError):
        beta_schedule(0.0, 2)


def test_stop_rule_fires_on_a_crafted_dev_curve():
    curve = [40.0, 43.0, 44.5, 44.6, 46.0]  # M0, then rounds 1..4
    decisions = []
    for round_number in range(1, len(curve)):
        decisions.append(decide(round_number, curve[round_number], curve[round_number - 1], delta=0.3, max_rounds=4))
        if decisions[-1].stop:
            break
    # +3.0 and +1.5 are accepted; +0.1 is below delta: round 3 is rejected and the loop stops there.
    assert [(d.round, d.accepted, d.stop) for d in decisions] == [(1, True, False), (2, True, False), (3, False, True)]
    assert final_round(decisions) == 2
    assert "round 3 is not accepted" in decisions[-1].reason


def test_stop_rule_stops_at_max_rounds_and_when_the_first_round_fails():
    assert decide(2, 50.0, 45.0, delta=0.3, max_rounds=2).stop
    assert decide(2, 50.0, 45.0, delta=0.3, max_rounds=2).accepted
    first = decide(1, 40.1, 40.0, delta=0.3, max_rounds=4)
    assert first.stop and not first.accepted and final_round([first]) == 0
    assert Decision(**first.to_json()) == first


def test_copies_without_frames_are_not_augmentation_candidates():
    text = "Ada Lovelace wrote notes."
    annotated = Record(text=text, task="ner", dataset="a", split="train", id="a-1~typo",
                       frames=[Frame(type="person", filler=Span(0, 12, "Ada Lovelace"))])
    empty = Record(text=text, task="ner", dataset="a", split="train", id="a-2~typo", frames=[])
    assert annotated_copies([empty, annotated, empty]) == [annotated]


def test_replay_sample_size():
    records = list(range(100))
    assert len(replay_sample(records, 0.5, 30, seed=1)) == 15
    assert replay_sample(records, 0.0, 30, seed=1) == []


def test_method_table_has_every_row_and_the_improvement_over_m0():
    rows = []
    for dataset, task, unseen_shift in (("seen_ner", "NER", 0), ("other_ner", "NER", 0), ("held_ner", "NER", 10)):
        for kind, m0, lda in (("Clean", 80, 82), ("Typo Injection", 40, 60)):
            rows.append({"task": task, "dataset": dataset, "type": kind, "M0 F1": m0 - unseen_shift, "LDA F1": lda - unseen_shift})
    rows.append({"task": "NER", "dataset": "average", "type": "Clean", "M0 F1": 0.0, "LDA F1": 0.0})  # ignored: recomputed per setting
    table = method_table(pd.DataFrame(rows), ["M0", "LDA"], {"M0": 0.0, "LDA": 0.15}, unseen=["held_ner"])
    assert list(zip(table["setting"], table["type"])) == [
        ("seen", "Clean"), ("seen", "Typo Injection"), ("unseen", "Clean"), ("unseen", "Typo Injection"), ("", "augmented data used (%)")
    ]
    typo_seen = table.iloc[1]
    assert typo_seen["M0 F1"] == 40 and typo_seen["LDA F1"] == 60 and typo_seen["LDA vs M0 %"] == 50.0
    assert table.iloc[3]["LDA vs M0 %"] == pytest.approx(100 * (50 - 30) / 30, abs=0.01)
    assert table.iloc[-1]["LDA F1"] == 15.0 and table.iloc[-1]["M0 F1"] == 0.0 and math.isnan(table.iloc[-1]["LDA vs M0 %"])
