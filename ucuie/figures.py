"""Figures of the experiments: headline F1 per task and model (Tables 1-3), training curves,
robustness drops per perturbation type, LDA dev F1 per round.

Every figure is readable on its own: a title per panel, labelled axes, a legend, values written
on the bars.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ucuie.tasks import TASK_NAMES  # noqa: E402

PANEL_TITLES = {
    "table1_supervised": "Supervised (Table 1)",
    "table2_low_resource": "Low-resource (Table 2)",
    "table3_zero_shot": "Zero-shot (Table 3)",
}
KEYS = ("setting", "task", "metric", "dataset")


def _summary_rows(table: pd.DataFrame) -> pd.DataFrame:
    """Per-task averages and the overall Average of one experiment table."""
    rows = table[table["dataset"].isin(["average", "Average"])].copy()
    rows["label"] = [
        "Average" if dataset == "Average" else f"{TASK_NAMES.get(task, task)} {metric}"
        for task, metric, dataset in zip(rows["task"], rows["metric"], rows["dataset"])
    ]
    return rows


def results_figure(tables: Mapping[str, pd.DataFrame], out: str | Path) -> None:
    """One panel per experiment table: grouped bars of mean F1 (with std) per task and model."""
    names = list(tables)
    fig, axes = plt.subplots(len(names), 1, figsize=(10, 3.6 * max(1, len(names))), squeeze=False)
    for ax, name in zip(axes[:, 0], names):
        table = tables[name]
        rows = _summary_rows(table)
        models = [c for c in table.columns if c not in KEYS and not c.endswith(" std")]
        x = np.arange(len(rows))
        width = 0.8 / max(1, len(models))
        for i, model in enumerate(models):
            means = rows[model].to_numpy(dtype=float)
            stds = rows[f"{model} std"].fillna(0).to_numpy(dtype=float)
            bars = ax.bar(x + (i - (len(models) - 1) / 2) * width, means, width, yerr=stds, capsize=2, label=model)
            ax.bar_label(bars, labels=[f"{m:.1f}" for m in means], fontsize=7, padding=1)
        ax.set_xticks(x, rows["label"])
        ax.set_ylabel("offset F1 (%)")
        ax.set_ylim(0, max(10.0, float(np.nanmax(rows[models].to_numpy(dtype=float))) * 1.2 if len(rows) else 10.0))
        ax.set_title(PANEL_TITLES.get(name, name))
        ax.legend(fontsize=8, ncol=len(models), loc="upper left")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def training_figure(logs: Mapping[str, pd.DataFrame], out: str | Path) -> None:
    """Task loss and the two auxiliary losses against the optimizer step, one line per model."""
    fig, (task_ax, aux_ax) = plt.subplots(1, 2, figsize=(12, 4))
    for label, log in logs.items():
        if log.empty:
            continue
        line = task_ax.plot(log["step"], log["task_loss"], label=label)[0]
        for column, style in (("bce", "-"), ("entropy", ":")):
            if column in log and log[column].abs().sum() > 0:
                aux_ax.plot(log["step"], log[column], style, color=line.get_color(), label=f"{label} {column}")
    task_ax.set(title="Task loss (target tokens)", xlabel="optimizer step", ylabel="cross-entropy")
    aux_ax.set(title="Auxiliary losses: L_bce (solid), L_entropy (dotted)", xlabel="optimizer step", ylabel="loss")
    for ax in (task_ax, aux_ax):
        if ax.lines:
            ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def robustness_figure(table: pd.DataFrame, out: str | Path) -> None:
    """Relative F1 drop per perturbation type (averaged over datasets), one panel per task and a
    bar per model, from :func:`ucuie.robustness.robustness_table`."""
    averages = table[(table["dataset"] == "average") & (table["type"] != "Clean")]
    tasks = list(dict.fromkeys(averages["task"]))
    models = [c[: -len(" drop %")] for c in table.columns if c.endswith(" drop %")]
    fig, axes = plt.subplots(1, max(1, len(tasks)), figsize=(4.5 * max(1, len(tasks)), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        rows = averages[averages["task"] == task]
        x = np.arange(len(rows))
        width = 0.8 / max(1, len(models))
        for i, model in enumerate(models):
            drops = rows[f"{model} drop %"].to_numpy(dtype=float)
            bars = ax.bar(x + (i - (len(models) - 1) / 2) * width, np.nan_to_num(drops), width, label=model)
            ax.bar_label(bars, labels=["n/a" if np.isnan(d) else f"{d:.1f}" for d in drops], fontsize=7, padding=1)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(x, rows["type"], rotation=30, ha="right")
        ax.set_ylabel("relative F1 drop from clean (%)")
        ax.set_title(f"{task}: drop per perturbation type")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def lda_figure(dev_curves: Mapping[str, Sequence[float]], final_rounds: Mapping[str, int], out: str | Path) -> None:
    """Dev F1 per LDA round (round 0 is M0), one line per seed, the final (last accepted) round marked."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for label, curve in dev_curves.items():
        line = ax.plot(range(len(curve)), curve, marker="o", label=label)[0]
        final = final_rounds[label]
        ax.plot([final], [curve[final]], marker="*", markersize=14, color=line.get_color(), linestyle="none")
        for round_number, value in enumerate(curve):
            ax.annotate(f"{value:.1f}", (round_number, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=7)
    ax.set(title="LDA: dev F1 per round (star: final model)", xlabel="round (0 = M0, trained on the original data)", ylabel="dev F1 (%)")
    ax.set_xticks(range(max((len(c) for c in dev_curves.values()), default=1)))
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)
