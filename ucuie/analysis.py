"""The paper's analysis experiments (Sections 4.3-4.4): tables and figures from score files.

* Table 4 (:func:`ablation_table`): one row per model variant, the task averages NER, RE, ED
  (event trigger), EAE (event argument) and the Average of Table 1 (every dataset and metric).
* Figure 5 (:func:`subexpert_table`, :func:`subexpert_figure`): F1 against the number of
  sub-experts Q under the supervised, low-resource and zero-shot settings, one line per task and
  the average in red.
* Tables 5 and 6 (:func:`capability_table`): the trained model with a fixed set of capability
  experts switched on (:data:`COMBINATIONS`; ``soft`` = the learned routing) on the judging /
  locating / associating sub-task test sets (Table 5) and on NER, RE and EAE (Table 6).
* Figure 6 (:func:`routing_weights`, :func:`routing_figure`): mean low-level routing weight per
  sub-expert over a fixed number of tokens per task, for each capability the task uses, for
  models with and without L_entropy.

Every table is a DataFrame with mean and std over seeds (std 0 with one seed); every figure is
titled, labelled, with a legend or colour bar and its values written on it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from ucuie.evaluation import SUPERVISED, ZERO_SHOT  # noqa: E402
from ucuie.experiments import comparison_table  # noqa: E402
from ucuie.tasks import CAPABILITIES, TASK_NAMES, capabilities_of  # noqa: E402

#: (task, metric) of a task-average row -> Table 4's column
ABLATION_COLUMNS = {("ner", "entity"): "NER", ("re", "triple"): "RE", ("ee", "trigger"): "ED", ("ee", "argument"): "EAE"}
#: Table 6 rows: (task, metric) -> label
IE_ROWS = {("ner", "entity"): "NER", ("re", "triple"): "RE", ("ee", "argument"): "EAE"}
LOW_RESOURCE = "low-resource"
SETTINGS = (SUPERVISED, LOW_RESOURCE, ZERO_SHOT)


def _task_rows(table: pd.DataFrame, rows: Mapping[tuple[str, str], str], labels: Sequence[str], average: bool) -> pd.DataFrame:
    """Pick the task-average rows (and the overall Average) of a comparison table, one column each."""
    picked = {}
    for (task, metric), name in rows.items():
        hit = table[(table["task"] == task) & (table["metric"] == metric) & (table["dataset"] == "average")]
        if len(hit):
            picked[name] = hit.iloc[0]
    if average:
        hit = table[table["dataset"] == "Average"]
        if len(hit):
            picked["Average"] = hit.iloc[0]
    out = pd.DataFrame(index=list(labels))
    for name, row in picked.items():
        out[name] = [row[label] for label in labels]
        out[f"{name} std"] = [row[f"{label} std"] for label in labels]
    return out


def ablation_table(columns: Mapping[str, Sequence[Sequence[Mapping]]]) -> pd.DataFrame:
    """Table 4: ``columns`` maps a method label to one list of score results per seed (supervised datasets)."""
    table = comparison_table(columns)
    out = _task_rows(table, ABLATION_COLUMNS, list(columns), average=True)
    return out.rename_axis("method").reset_index()


def capability_table(columns: Mapping[str, Sequence[Sequence[Mapping]]], rows: Mapping[tuple[str, str], str]) -> pd.DataFrame:
    """Tables 5/6: rows are tasks (``rows``: (task, metric) -> label), columns the expert settings."""
    table = comparison_table(columns)
    picked = _task_rows(table, rows, list(columns), average=False)
    means = picked[[c for c in picked.columns if not c.endswith(" std")]].T
    stds = picked[[c for c in picked.columns if c.endswith(" std")]].T
    stds.index = [i.removesuffix(" std") for i in stds.index]
    out = means.copy()
    for label in means.columns:
        out[f"{label} std"] = stds[label]
    return out.rename_axis("task").reset_index()


def subtask_rows() -> dict[tuple[str, str], str]:
    """Table 5 rows: each capability sub-task is its own task and metric."""
    return {(capability, capability): capability.title() for capability in CAPABILITIES}


def subexpert_table(columns: Mapping[str, Mapping[int, Sequence[Sequence[Mapping]]]], held_out: Sequence[str]) -> pd.DataFrame:
    """Figure 5's numbers, long layout: setting, label (task metric or Average), Q, F1, F1 std.

    ``columns`` maps a setting (:data:`SETTINGS`) to {Q: one list of score results per seed}.
    """
    rows = []
    for setting, by_q in columns.items():
        if not by_q:
            continue
        table = comparison_table({str(q): runs for q, runs in by_q.items()}, held_out=held_out)
        summary = table[table["dataset"].isin(["average", "Average"])]
        for _, row in summary.iterrows():
            label = "Average" if row["dataset"] == "Average" else f"{TASK_NAMES.get(row['task'], row['task'])} {row['metric']}"
            for q in by_q:
                rows.append({"setting": setting, "label": label, "Q": int(q), "F1": row[str(q)], "F1 std": row[f"{q} std"]})
    return pd.DataFrame(rows, columns=["setting", "label", "Q", "F1", "F1 std"])


def subexpert_figure(table: pd.DataFrame, out: str | Path) -> None:
    """Figure 5: one panel per setting, F1 against Q; a line per task, the average in red."""
    settings = [s for s in SETTINGS if s in set(table["setting"])]
    fig, axes = plt.subplots(1, len(settings), figsize=(5.2 * len(settings), 4.8), squeeze=False)
    for ax, setting in zip(axes[0], settings):
        part = table[table["setting"] == setting]
        qs = sorted(part["Q"].unique())
        for label in dict.fromkeys(part["label"]):
            line = part[part["label"] == label].set_index("Q").reindex(qs)
            average = label == "Average"
            ax.plot(qs, line["F1"], marker="o", color="red" if average else None, linewidth=2.5 if average else 1.2, label=label, zorder=3 if average else 2)
            if average:
                for q, value in zip(qs, line["F1"]):
                    ax.annotate(f"{value:.1f}", (q, value), textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8, color="red")
        ax.set_xticks(qs)
        ax.set_ylim(0, max(10.0, 1.15 * float(np.nanmax(part["F1"].to_numpy(dtype=float), initial=0.0))))
        ax.set_xlabel("sub-experts per capability expert (Q)")
        ax.set_ylabel("offset F1 (%)")
        ax.set_title(setting.capitalize())
        ax.grid(alpha=0.3)
        # Below the panel, so no legend hides a point.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    fig.suptitle("Effect of the number of sub-experts (paper Figure 5; red: average)")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    plt.close(fig)


def sample_routing_weights(model, tokenizer, instances: Sequence, tokens: int, batch_size: int, seed: int) -> dict[str, Any]:
    """Mean sub-expert weights g_q^i per task over exactly ``tokens`` tokens of its instances.

    The instances of each task are shuffled (seeded) and read whole (prompt and target, as in
    training) until ``tokens`` tokens are reached; the last one is cut to make the count exact.
    The model runs under its own routing; every wrapped layer's weights are recorded
    (:func:`ucuie.adapter.record_routing_weights`) and averaged over layers, for each capability
    the task uses.  A task with fewer tokens in all its instances uses what there is (the count is
    in the result).
    """
    import random

    import torch

    from ucuie.adapter import record_routing_weights, routing
    from ucuie.train import Example, collate, encode_examples

    by_task: dict[str, list] = {}
    for instance in instances:
        by_task.setdefault(instance.task, []).append(instance)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    device = next(model.parameters()).device
    result: dict[str, Any] = {"tokens": {}, "weights": {}}
    model.eval()
    for task, task_instances in by_task.items():
        order = list(task_instances)
        random.Random(seed).shuffle(order)
        # Encoded a batch at a time (lazily), so a large training set is not tokenised whole for 1,000 tokens.
        encoded = (example for start in range(0, len(order), batch_size) for example in encode_examples(tokenizer, order[start : start + batch_size], None)[0])
        chosen, total = [], 0
        for example in encoded:
            keep = min(len(example), tokens - total)
            chosen.append(Example(example.input_ids[:keep], example.instruction_mask[:keep], example.labels[:keep], example.task))
            total += keep
            if total == tokens:
                break
        with torch.no_grad(), record_routing_weights(model) as record:
            for start in range(0, len(chosen), batch_size):
                batch = {k: v.to(device) for k, v in collate(chosen[start : start + batch_size], pad).items()}
                with routing(model, instruction_mask=batch["instruction_mask"], attention_mask=batch["attention_mask"], capability_labels=batch["capability_labels"]):
                    model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False)
        result["tokens"][task] = total
        result["weights"][task] = routing_weights(record.mean_weights(), task)
    return result


def mean_over_seeds(results: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """The :func:`routing_frame` of the weights of :func:`sample_routing_weights`, averaged over seeds."""
    frames = [routing_frame(result["weights"]) for result in results]
    return sum(frames[1:], frames[0]) / len(frames)


def routing_weights(record: Mapping[str, Mapping[str, Sequence[float]]], task: str) -> dict[str, list[float]]:
    """Mean sub-expert weights over the wrapped layers, for each capability ``task`` uses."""
    used = [c for c in capabilities_of(task) if all(c in groups for groups in record.values())]
    return {capability: np.mean([record[layer][capability] for layer in record], axis=0).tolist() for capability in used}


def routing_frame(weights: Mapping[str, Mapping[str, Sequence[float]]]) -> pd.DataFrame:
    """``{task: {capability: [Q weights]}}`` as rows 'NER-judging', ... with columns 'E1'..'EQ'."""
    rows = {f"{TASK_NAMES.get(task, task)}-{capability}": list(values) for task, by_cap in weights.items() for capability, values in by_cap.items()}
    width = max((len(v) for v in rows.values()), default=0)
    return pd.DataFrame.from_dict(rows, orient="index", columns=[f"E{q + 1}" for q in range(width)])


def routing_figure(frames: Mapping[str, pd.DataFrame], tokens: int, out: str | Path) -> None:
    """Figure 6: one heatmap per model (rows task-capability, columns sub-experts), values written."""
    shared_rows = len({tuple(frame.index) for frame in frames.values()}) == 1
    width = 1.3 * max(f.shape[1] for f in frames.values()) * len(frames) + (2.5 if shared_rows else 2.5 * len(frames))
    fig, axes = plt.subplots(1, len(frames), figsize=(width, 0.45 * max(len(f) for f in frames.values()) + 1.8), squeeze=False, sharey=shared_rows)
    image = None
    for index, (ax, (label, frame)) in enumerate(zip(axes[0], frames.items())):
        image = ax.imshow(frame.to_numpy(dtype=float), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto")
        ax.set_xticks(range(frame.shape[1]), frame.columns)
        ax.set_yticks(range(len(frame)), frame.index)
        if shared_rows and index > 0:
            ax.tick_params(labelleft=False)  # the same rows as the first panel
        else:
            ax.set_ylabel("task-capability")
        ax.set_xlabel("sub-expert")
        ax.set_title(label)
        for (i, j), value in np.ndenumerate(frame.to_numpy(dtype=float)):
            # Three decimals: weights near uniform (1/Q) differ in the third.
            ax.text(j, i, f"{value:.3f}", ha="center", va="center", fontsize=8, color="white" if value > 0.6 else "black")
    fig.colorbar(image, ax=axes[0].tolist(), label="mean routing weight")
    fig.suptitle(f"Mean low-level routing weight per sub-expert ({tokens} tokens per task; paper Figure 6)")
    fig.savefig(out, dpi=120, bbox_inches="tight")
    plt.close(fig)
