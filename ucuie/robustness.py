"""RUIE-Bench in the workflow: the benchmark's source sentences, one perturbed copy of a split per
type, and the robustness table (F1 per dataset and type, with the relative drop from clean).

Layout (``docs/perturbations.md``): the benchmark samples ``sources_per_task`` test sentences per
task (paper: 1000 NER, 800 RE, 676 ED), split evenly over the task's benchmark datasets
(:func:`source_shares`); each source sentence is perturbed by every type of its task
(:data:`ucuie.perturb.PERTURBATIONS`).  Training splits are perturbed the same way (all records,
no sampling) for Loss-guided Data Augmentation.

The lexicon backend draws from the split being perturbed: test mentions replace test mentions
(so a replaced entity is as unseen in training as the original), training mentions replace
training mentions (so augmentation never leaks test strings into training).

A model is scored on the clean sources and on every perturbed set with the task's headline
metric (:data:`HEADLINE_METRICS`: NER entity, RE triple, ED trigger); the relative drop of a
type is ``(clean F1 - perturbed F1) / clean F1`` in %, undefined (empty) when clean F1 is 0.
Perturbed records are scored only against their own gold, so a type that could not apply to a
source sentence simply has fewer records; the clean row holds every source.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from ucuie.data.prepare import sample
from ucuie.evaluation import evaluate_predictions
from ucuie.llm import CachedBackend
from ucuie.perturb import PERTURBATIONS, TYPE_NAMES, Lexicon, perturb_records
from ucuie.perturb.kinds import GENERATED_TYPES, RULE_TYPES
from ucuie.prompts import Instance, build_instances
from ucuie.records import DatasetSchema, Record
from ucuie.scoring import Scores
from ucuie.tasks import EE, NER, RE

CLEAN = "clean"
#: The metric each task is judged by in RUIE-Bench (ED: event detection, i.e. triggers).
HEADLINE_METRICS: dict[str, str] = {NER: "entity", RE: "triple", EE: "trigger"}
#: Display names of the tasks in robustness tables.
TASK_LABELS: dict[str, str] = {NER: "NER", RE: "RE", EE: "ED"}
#: Which config key under ``robustness.generators`` picks the backend of each generated type.
GENERATOR_KEYS: dict[str, str] = {kind: ("replace" if kind.startswith("replace_") else kind) for kind in GENERATED_TYPES}


def source_shares(sizes: Mapping[str, int], datasets_by_task: Mapping[str, Sequence[str]]) -> dict[str, int]:
    """Source sentences per dataset: each task's size split evenly over its datasets (the first
    datasets, in the order given, take one more when it does not divide)."""
    shares = {}
    for task, datasets in datasets_by_task.items():
        size = sizes.get(task, 0)
        for index, dataset in enumerate(datasets):
            shares[dataset] = size // len(datasets) + (index < size % len(datasets))
    return shares


@dataclass
class SplitPerturbation:
    """Every type of a task applied to one split: the records per type and what was counted."""

    sources: list[Record]
    records: dict[str, list[Record]] = field(default_factory=dict)
    report: dict[str, dict] = field(default_factory=dict)
    examples: dict[str, list[dict]] = field(default_factory=dict)


def perturb_split(
    records: Sequence[Record],
    *,
    seed: int,
    size: int | None = None,
    generators: Mapping[str, str],
    backend: CachedBackend | None = None,
    typo_rate: float,
    max_context_words: int,
) -> SplitPerturbation:
    """Perturb ``records`` (one task's split; a seeded sample of ``size`` of them when given) by
    every type of the task.  ``generators`` maps ``replace`` / ``change_context`` /
    ``extend_sentence`` to ``lexicon`` or ``llm`` (``backend`` is then needed); the lexicon is
    harvested from ``records`` themselves (see the module docstring)."""
    records = list(records)
    tasks = {record.task for record in records}
    if len(tasks) > 1:
        raise ValueError(f"a split to perturb holds one task, this one holds {sorted(tasks)}")
    sources = sample(records, size, seed) if size is not None else records
    result = SplitPerturbation(sources)
    if not sources:
        return result
    task = sources[0].task
    if task not in PERTURBATIONS:
        raise ValueError(f"RUIE-Bench has no perturbation of task {task!r} (it perturbs {', '.join(PERTURBATIONS)})")
    lexicon = Lexicon.from_records(records)
    for kind in PERTURBATIONS[task]:
        backend_name = "rule" if kind in RULE_TYPES else generators[GENERATOR_KEYS[kind]]
        if backend_name == "llm" and backend is None:
            raise ValueError(f"perturbation type {kind!r} is set to the llm backend, but no LLM backend was given")
        outcome = perturb_records(
            sources, kind, seed=seed, lexicon=lexicon, backend=backend, use_llm=backend_name == "llm",
            typo_rate=typo_rate, max_context_words=max_context_words,
        )
        result.records[kind] = outcome.records
        result.examples[kind] = outcome.examples
        result.report[kind] = {
            "name": TYPE_NAMES[kind],
            "backend": backend_name,
            "sources": len(sources),
            "accepted": len(outcome.records),
            "not_applicable": outcome.not_applicable,
            "rejected": sum(outcome.rejected.values()),
            "rejected_by_reason": dict(sorted(outcome.rejected.items())),
        }
    return result


def examples_markdown(dataset: str, examples: Mapping[str, Sequence[dict]]) -> str:
    """Accepted and rejected pairs of every type, for a person to read."""
    lines = [f"# Perturbation samples: {dataset}", ""]
    for kind, items in examples.items():
        lines += [f"## {TYPE_NAMES[kind]} (`{kind}`)", ""]
        if not items:
            lines += ["(no output: the type applied to no record)", ""]
        for item in items:
            status = item["status"] + (f" ({'; '.join(item['reasons'])})" if item["reasons"] else "")
            perturbed = item["perturbed"]["text"] if item["perturbed"] else "(no usable answer)"
            lines += [f"- **{item['id']}**: {status}", f"  - original: {item['original']['text']}", f"  - perturbed: {perturbed}"]
        lines.append("")
    return "\n".join(lines)


def variant_of(record_id: str) -> str:
    """``clean`` or the perturbation type of a benchmark record id (``<source id>~<type>``)."""
    _, sep, kind = record_id.rpartition("~")
    return kind if sep and kind in TYPE_NAMES else CLEAN


def score_by_variant(gold: Sequence[Record], predictions: Sequence[Mapping]) -> dict[str, dict]:
    """:func:`ucuie.evaluation.evaluate_predictions` separately on the clean and on each perturbed set."""
    by_variant: dict[str, list[Record]] = {}
    for record in gold:
        by_variant.setdefault(variant_of(record.id), []).append(record)
    return {variant: evaluate_predictions(records, predictions) for variant, records in by_variant.items()}


def _headline_f1(result: Mapping) -> tuple[str, str, float] | None:
    """(dataset, task, offset F1) of a scored set under its task's headline metric."""
    for row in Scores.from_json(result["scores"]).results:
        if HEADLINE_METRICS.get(row.task) == row.metric:
            return row.dataset, row.task, row.offset.f1
    return None


def robustness_table(models: Mapping[str, Sequence[Sequence[Mapping[str, Mapping]]]]) -> pd.DataFrame:
    """F1 per (task, dataset, type) and the relative drop from clean, for each model.

    ``models`` maps a column label to one list per seed of ``score_by_variant`` results (one per
    dataset).  Rows, per task in the paper's order: each dataset's clean row and one row per type
    of the task (empty where the type applied to no source sentence), then the task's ``average``
    rows (mean over the datasets that have the row).  Columns ``<label> F1`` (mean over seeds, %)
    and ``<label> drop %`` (relative drop of that mean from the clean row; empty for clean F1 0).
    """
    columns = {}
    for label, seeds in models.items():
        f1s: dict[tuple[str, str, str], list[float]] = {}
        for results in seeds:
            for per_variant in results:
                for variant, result in per_variant.items():
                    found = _headline_f1(result)
                    if found is not None:
                        dataset, task, f1 = found
                        f1s.setdefault((task, dataset, variant), []).append(100 * f1)
        if not f1s:
            raise ValueError(f"robustness table column {label!r} has no scored NER, RE or ED set")
        columns[label] = {key: sum(values) / len(values) for key, values in f1s.items()}
    datasets = sorted({(task, dataset) for column in columns.values() for task, dataset, _ in column}, key=lambda td: (list(PERTURBATIONS).index(td[0]), td[1]))
    rows = []
    for task in PERTURBATIONS:
        names = [dataset for t, dataset in datasets if t == task]
        if not names:
            continue
        kinds = [CLEAN, *PERTURBATIONS[task]]
        for dataset in [*names, "average"]:
            for kind in kinds:
                row = {"task": TASK_LABELS[task], "dataset": dataset, "type": "Clean" if kind == CLEAN else TYPE_NAMES[kind]}
                for label, column in columns.items():
                    def f1(name: str, kind: str = kind) -> float | None:
                        if name != "average":
                            return column.get((task, name, kind))
                        found = [column[(task, n, kind)] for n in names if (task, n, kind) in column]
                        return sum(found) / len(found) if found else None

                    value, clean = f1(dataset), f1(dataset, CLEAN)
                    row[f"{label} F1"] = value
                    row[f"{label} drop %"] = None if kind == CLEAN or value is None or not clean else 100 * (clean - value) / clean
                rows.append(row)
    return pd.DataFrame(rows).astype({c: float for c in (f"{label} {what}" for label in models for what in ("F1", "drop %"))}).round(2)


def report_summary(reports: Mapping[str, Mapping[str, Mapping]]) -> pd.DataFrame:
    """Per dataset and type: sources, accepted, not applicable, rejected (from the perturb reports)."""
    rows = [
        {"dataset": dataset, "type": entry["name"], "backend": entry["backend"], "sources": entry["sources"], "accepted": entry["accepted"],
         "not applicable": entry["not_applicable"], "rejected": entry["rejected"],
         "rejected by reason": json.dumps(entry["rejected_by_reason"]) if entry["rejected_by_reason"] else ""}
        for dataset, report in reports.items()
        for entry in report.values()
    ]
    return pd.DataFrame(rows)


def source_id(record_id: str) -> str:
    """The id of the source record of a perturbed record (the id itself for a clean one)."""
    return record_id.rpartition("~")[0] if variant_of(record_id) != CLEAN else record_id


def perturbed_instances(
    sources: Sequence[Record], perturbed: Sequence[Record], schema: DatasetSchema, pool: Sequence[str], seed: int
) -> list[Instance]:
    """Instances of the sources and of their perturbed copies; a perturbed copy keeps its source's
    instruction, so only the text differs between a clean and a perturbed prompt."""
    clean = build_instances(sources, schema, pool, seed)
    instruction = {instance.id: instance.instruction for instance in clean}
    copies = [
        dataclasses.replace(instance, instruction=instruction[source_id(instance.id)])
        for instance in build_instances(perturbed, schema, pool, seed)
    ]
    return clean + copies
