"""From raw model outputs to scores and tables: parse, ground, score (one path for every model)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import pandas as pd

from ucuie.grounding import ground
from ucuie.linearize import parse
from ucuie.records import Frame, Record
from ucuie.scoring import OFFSET, STRING, Scores, score


def ground_outputs(gold: Sequence[Record], outputs: Mapping[str, str]) -> tuple[dict[str, list[Frame]], dict[str, int]]:
    """Parse each output string and ground its spans in the gold record's text.

    Returns the predicted frames per record id and counts of parse errors and ungrounded spans.
    """
    frames: dict[str, list[Frame]] = {}
    counts = {"outputs": 0, "parse_errors": 0, "ungrounded_spans": 0, "missing_outputs": 0}
    for record in gold:
        if record.id not in outputs:
            counts["missing_outputs"] += 1
            continue
        parsed = parse(outputs[record.id])
        grounded = ground(parsed.frames, record.text)
        frames[record.id] = grounded.frames
        counts["outputs"] += 1
        counts["parse_errors"] += parsed.errors
        counts["ungrounded_spans"] += grounded.ungrounded
    return frames, counts


def evaluate_predictions(gold: Sequence[Record], predictions: Sequence[Mapping]) -> dict:
    """Score prediction rows (``id``, ``output``) against ``gold``; only predicted ids are scored.

    Returns the per-dataset counts (``scores``, see :meth:`Scores.to_json`), the parse and
    grounding counts, and a one-line summary.
    """
    outputs = {row["id"]: row["output"] for row in predictions}
    gold = [record for record in gold if record.id in outputs]
    frames, counts = ground_outputs(gold, outputs)
    scores = score(gold, frames)
    summary = ", ".join(f"{r.dataset}/{r.metric} F1={100 * r.offset.f1:.2f}" for r in scores.results)
    return {"scores": scores.to_json(), "counts": counts, "summary": summary}


SUPERVISED, ZERO_SHOT = "supervised", "zero-shot"


def results_table(results: Sequence[Mapping], held_out: Collection[str] = ()) -> pd.DataFrame:
    """The paper's Table 1 / Table 3 layout for several :func:`evaluate_predictions` results.

    Datasets in ``held_out`` form the zero-shot setting, the others the supervised one.  Per
    setting: one row per dataset and metric, grouped by task, each task closed by its average
    over datasets, and a last row with the paper's "Average" over every (dataset, metric).
    F1 in %: offset F1 is the headline, string-match F1 stands beside it.
    """
    everything = Scores.from_json([row for result in results for row in result["scores"]])
    rows = []
    for setting in (SUPERVISED, ZERO_SHOT):
        scores = Scores([r for r in everything.results if (r.dataset in held_out) == (setting == ZERO_SHOT)])
        if not scores.results:
            continue
        for task, metric in scores.columns():
            for r in sorted((r for r in scores.results if (r.task, r.metric) == (task, metric)), key=lambda r: r.dataset):
                rows.append({"setting": setting, "task": task, "metric": metric, "dataset": r.dataset, "F1": r.offset.f1, "string F1": r.string.f1})
            rows.append({"setting": setting, "task": task, "metric": metric, "dataset": "average",
                         "F1": scores.task_macro(task, metric, OFFSET), "string F1": scores.task_macro(task, metric, STRING)})
        rows.append({"setting": setting, "task": "all", "metric": "all", "dataset": "Average", "F1": scores.overall(OFFSET), "string F1": scores.overall(STRING)})
    table = pd.DataFrame(rows, columns=["setting", "task", "metric", "dataset", "F1", "string F1"])
    table[["F1", "string F1"]] = (100 * table[["F1", "string F1"]]).round(2)
    return table
