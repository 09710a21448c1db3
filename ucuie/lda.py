"""Loss-guided Data Augmentation (RUIE-Bench paper, Section 5): the selection, the schedule, the
stop rule, and the comparison table.

The loop (the workflow runs it as ``rules/lda.smk``; ``docs/lda.md`` walks through it):

* ``M0`` is the model trained on the original data (a configured variant, full training set).
* Round ``t`` (1, 2, ...) scores every augmented training sample (the perturbed copies of the
  training splits, :mod:`ucuie.robustness`) with ``M_{t-1}``: the mean cross-entropy over its
  target tokens (:func:`ucuie.train.sample_losses`).  It keeps the top ``beta_t`` fraction of
  samples by loss per dataset (or per dataset and type), ``beta_t = beta_1 / 2^(t-1)``
  (:func:`beta_schedule`), fine-tunes ``M_{t-1}`` on them (plus, if configured, a replay share of
  the original data) and evaluates the result on the dev sets.
* Round ``t`` is *accepted* when its dev F1 gain over ``M_{t-1}`` is at least ``delta`` points
  (paper: 0.3); the loop stops at the first round that is not accepted or after ``max_rounds``.
  The final model is the last accepted round (``M0`` if none is), and the fraction of augmented
  data it used is the sum of the accepted rounds' ``beta_t`` (paper: 10% + 5% = 15%).

The authors' public code makes one selection pass; this is the full loop of the paper.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import pandas as pd

from ucuie.data.prepare import sample
from ucuie.robustness import variant_of

#: Selection granularity: the top fraction is taken within each dataset, or each dataset x type.
GRANULARITIES = ("dataset", "dataset_type")
LOSS_COLUMNS = ("id", "dataset", "type", "loss")


def beta_schedule(beta_1: float, rounds: int) -> list[float]:
    """``[beta_1, beta_1 / 2, beta_1 / 4, ...]``: the fraction kept in rounds 1..``rounds``."""
    if not 0 < beta_1 <= 1:
        raise ValueError(f"lda beta_1 must be in (0, 1], got {beta_1!r}")
    return [beta_1 / 2**t for t in range(rounds)]


def loss_table(ids: Sequence[str], datasets: Sequence[str], losses: Sequence[float]) -> pd.DataFrame:
    """The loss table of one round: ``id``, ``dataset``, ``type`` (from the id), ``loss``."""
    return pd.DataFrame({"id": list(ids), "dataset": list(datasets), "type": [variant_of(i) for i in ids], "loss": list(losses)})


def _groups(table: pd.DataFrame, granularity: str) -> list[str]:
    if granularity not in GRANULARITIES:
        raise ValueError(f"lda granularity must be one of {', '.join(GRANULARITIES)}, got {granularity!r}")
    return ["dataset"] if granularity == "dataset" else ["dataset", "type"]


def group_quota(size: int, fraction: float) -> int:
    """How many of a group of ``size`` samples a ``fraction`` keeps: ``ceil(fraction * size)``,
    so a non-empty group always gives at least one."""
    return min(size, math.ceil(fraction * size - 1e-9))


def select_hardest(table: pd.DataFrame, fraction: float, granularity: str = "dataset") -> list[str]:
    """The ids of the top ``fraction`` of samples by loss within each group (highest first; ties
    by id).  Samples without a loss (NaN: the target was cut away) are never selected."""
    scored = table.dropna(subset=["loss"]).sort_values(["loss", "id"], ascending=[False, True])
    chosen = []
    for _, group in scored.groupby(_groups(table, granularity), sort=True):
        chosen += list(group["id"][: group_quota(len(group), fraction)])
    return chosen


def select_random(table: pd.DataFrame, fraction: float, seed: int, granularity: str = "dataset") -> list[str]:
    """A seeded random ``fraction`` of the samples within each group (the baseline of LDA)."""
    scored = table.dropna(subset=["loss"]) if "loss" in table else table
    chosen = []
    for key, group in scored.sort_values("id").groupby(_groups(table, granularity), sort=True):
        rng = random.Random(f"{seed}:{key}")
        chosen += sorted(rng.sample(list(group["id"]), group_quota(len(group), fraction)))
    return chosen


def annotated_copies(records: Sequence) -> list:
    """The perturbed training copies LDA may select: those with at least one frame.

    A copy of a sentence without annotations tests no extraction, and in a loss ranking it floats
    to the top (a trained model rarely expects the empty answer ``{}``), so the hardest fraction
    would be mostly empty targets and the round would teach the model to answer ``{}``.  Measured
    on the demo before this filter: 49 of the 65 samples of round 1 had empty targets and the
    round's dev F1 fell from 37.7 to 0."""
    return [record for record in records if record.frames]


def replay_sample(records: Sequence, share: float, selected: int, seed: int) -> list:
    """``round(share * selected)`` original samples (a seeded sample) to mix into a round."""
    return sample(records, round(share * selected), seed) if share > 0 else []


@dataclass
class Decision:
    """The stop rule's verdict on one round."""

    round: int
    dev_f1: float
    previous_dev_f1: float
    delta: float
    accepted: bool
    stop: bool
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def decide(round_number: int, dev_f1: float, previous_dev_f1: float, delta: float, max_rounds: int) -> Decision:
    """Accept round ``round_number`` when its dev F1 (in points) beats the previous model's by at
    least ``delta``; stop when it does not, or when it was the last round allowed."""
    gain = dev_f1 - previous_dev_f1
    accepted = gain >= delta
    if not accepted:
        reason = f"dev F1 gain {gain:+.2f} < delta {delta:g}: round {round_number} is not accepted"
    elif round_number >= max_rounds:
        reason = f"dev F1 gain {gain:+.2f} >= delta {delta:g}; max_rounds={max_rounds} reached"
    else:
        reason = f"dev F1 gain {gain:+.2f} >= delta {delta:g}: round {round_number} accepted, continue"
    return Decision(round_number, dev_f1, previous_dev_f1, delta, accepted, not accepted or round_number >= max_rounds, reason)


def final_round(decisions: Sequence[Decision]) -> int:
    """The last accepted round of a finished loop (0: ``M0``, no round accepted)."""
    accepted = 0
    for decision in decisions:
        if not decision.accepted:
            break
        accepted = decision.round
    return accepted


def fraction_used(betas: Sequence[float], final: int) -> float:
    """The share of the augmented data the final model was trained on: the accepted rounds' betas."""
    return sum(betas[:final])


def method_table(robustness: pd.DataFrame, labels: Sequence[str], fractions: Mapping[str, float], unseen: Sequence[str]) -> pd.DataFrame:
    """LDA and its baselines side by side on the robustness benchmark.

    ``robustness`` is a :func:`ucuie.robustness.robustness_table` with a ``<label> F1`` column
    per method, the first label being M0.  Rows: per setting (``seen``: datasets trained on;
    ``unseen``: held out of training), task and type (clean first), the F1 averaged over the
    setting's datasets; columns per method: ``F1`` and ``vs M0 %``, the relative improvement over
    M0.  A last row gives the share of the augmented data each method was trained on (%).
    """
    per_dataset = robustness[robustness["dataset"] != "average"]
    rows = []
    for setting in ("seen", "unseen"):
        part = per_dataset[per_dataset["dataset"].isin(unseen) == (setting == "unseen")]
        for (task, kind), group in part.groupby(["task", "type"], sort=False):
            row = {"setting": setting, "task": task, "type": kind}
            for label in labels:
                row[f"{label} F1"] = group[f"{label} F1"].mean()
            rows.append(row)
    table = pd.DataFrame(rows, columns=["setting", "task", "type", *(f"{label} F1" for label in labels)])
    base = table[f"{labels[0]} F1"]
    for label in labels[1:]:
        table[f"{label} vs M0 %"] = [
            None if pd.isna(b) or b == 0 or pd.isna(f) else 100 * (f - b) / b for f, b in zip(table[f"{label} F1"], base)
        ]
    used = {"setting": "", "task": "", "type": "augmented data used (%)", **{f"{label} F1": 100 * fractions[label] for label in labels}}
    table = pd.concat([table, pd.DataFrame([used])], ignore_index=True)
    columns = ["setting", "task", "type"] + [c for label in labels for c in (f"{label} F1", f"{label} vs M0 %") if c in table.columns]
    return table[columns].astype({c: float for c in columns[3:]}).round(2)
