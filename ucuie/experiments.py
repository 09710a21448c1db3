"""Model variants and the experiment tables of the paper (Tables 1-3) over several seeds.

A *variant* is a named set of overrides of the config's ``adapter`` and ``training`` keys
(``models:`` in the config), e.g. ``uc-uie-h: {adapter: {routing: hard}}`` for the paper's
UC-UIE^h.  Every trained model is a variant trained on a *training set* (``full``: every
dataset that is not held out; ``low-<fraction>``: the low-resource samples of Table 2) with one
seed; its outputs live under ``<variant>/<key>/<training set>/seed-<seed>``, where the key
hashes the settings that determine the weights (:func:`model_key`).

Tables put models side by side in the paper's layout: one row per dataset and metric, grouped
by task, each task closed by its average, and the "Average" row; each cell is the mean F1 over
seeds with its standard deviation (population std, 0 for a single seed).
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

import pandas as pd

from ucuie.adapter.config import AdapterConfigError, HierarchicalMoEConfig
from ucuie.data.prepare import sample
from ucuie.evaluation import results_table
from ucuie.prompts import Instance
from ucuie.train import TrainConfig

FULL = "full"
#: The columns that name a row of Tables 1-3.
TABLE_KEYS = ("setting", "task", "metric", "dataset")
#: Training settings that shape the warming stage besides its own keys (the batch, the losses).
WARMING_SHARED_KEYS = ("batch_size", "grad_accum", "gamma", "beta", "weight_decay", "warmup_ratio", "max_length", "bf16", "gradient_checkpointing")


class VariantError(ValueError):
    """A model variant in the config is malformed; the message names the key."""


def deep_merge(base: Mapping, overrides: Mapping) -> dict:
    """``base`` with ``overrides`` applied recursively (dicts merge, anything else replaces)."""
    merged = copy.deepcopy(dict(base))
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def resolve_variant(config: Mapping, name: str) -> dict:
    """The full ``{"adapter": ..., "training": ...}`` settings of variant ``name``.

    Raises :class:`VariantError` naming the config key when the variant is unknown or its
    adapter overrides do not make a valid :class:`HierarchicalMoEConfig`.
    """
    variants = config.get("models", {})
    if name not in variants:
        raise VariantError(f"config key 'models' has no variant {name!r} (it has {', '.join(variants) or 'none'})")
    overrides = variants[name] or {}
    unknown = sorted(set(overrides) - {"adapter", "training"})
    if unknown:
        raise VariantError(f"config key 'models.{name}.{unknown[0]}' is not known: a variant overrides 'adapter' and 'training' keys")
    adapter = deep_merge(config["adapter"], overrides.get("adapter", {}))
    try:
        HierarchicalMoEConfig.from_dict(adapter)
    except AdapterConfigError as error:
        raise VariantError(f"config key 'models.{name}.adapter': {error}") from None
    training = deep_merge(config["training"], overrides.get("training", {}))
    unknown = sorted(set(training) - set(config["training"]))
    if unknown:
        raise VariantError(f"config key 'models.{name}.training.{unknown[0]}' is not a training key (see rules/config.schema.yaml)")
    return {"adapter": adapter, "training": training}


#: Instruction sets a model trains on: the paraphrase pool (default) or the base instructions only.
PARAPHRASED, BASE_INSTRUCTIONS = "paraphrased", "base"


def no_paraphrase_variant(name: str) -> str:
    """The variant trained like ``name`` on base-instruction instances (Table 3's w/o Para.)."""
    return f"{name}-no-para"


def analysis_variants(config: Mapping, variants: Mapping[str, dict]) -> dict[str, dict]:
    """Variants the analysis experiments derive from configured ones (``config['analysis']``).

    ``<model>-no-para``: ``analysis.no_paraphrase`` trained on the base instructions only;
    ``<model>-q<Q>``: ``analysis.subexperts.model`` with ``Q`` sub-experts (the model itself
    where Q is its own).  Configured variants are never replaced.
    """
    analysis, derived = config["analysis"], {}
    if analysis["no_paraphrase"]:
        derived[no_paraphrase_variant(analysis["no_paraphrase"])] = {**variants[analysis["no_paraphrase"]], "instructions": BASE_INSTRUCTIONS}
    for q, name in subexpert_variants(config, variants).items():
        base = variants[analysis["subexperts"]["model"]]
        derived[name] = {**base, "adapter": {**base["adapter"], "sub_experts": q}}
    return {name: settings for name, settings in derived.items() if name not in variants}


def subexpert_variants(config: Mapping, variants: Mapping[str, dict]) -> dict[int, str]:
    """Q -> the variant name of the sub-expert sweep (empty without ``analysis.subexperts.model``)."""
    sweep = config["analysis"]["subexperts"]
    if not sweep["model"]:
        return {}
    own = variants[sweep["model"]]["adapter"]["sub_experts"]
    return {q: sweep["model"] if q == own else f"{sweep['model']}-q{q}" for q in sweep["values"]}


def instruction_set(variant: Mapping) -> str:
    return variant.get("instructions", PARAPHRASED)


def _with_instruction_set(settings: dict, variant: Mapping) -> dict:
    """``settings`` plus the variant's instruction set, only where it is not the default, so the
    keys of every model trained on paraphrased instructions stay what they were."""
    if instruction_set(variant) != PARAPHRASED:
        settings["instructions"] = instruction_set(variant)
    return settings


def warming_settings(variant: Mapping) -> dict:
    """What determines a variant's warming stage: the adapter, the warming keys, the shared training keys.

    Warming forces one capability expert on at a time, so the task router never runs: soft and
    hard routing warm alike, and a hard-routing variant shares the soft one's warming run (its
    stage 2 drops the unused task routers, :func:`ucuie.adapter.load_adapter`).
    """
    training = variant["training"]
    adapter = dict(variant["adapter"])
    if adapter.get("routing", "soft") == "hard":
        adapter["routing"] = "soft"
    settings = {
        "adapter": adapter,
        "warming": training["warming"],
        "training": {key: training[key] for key in WARMING_SHARED_KEYS},
    }
    return _with_instruction_set(settings, variant)


#: Workflow training keys that :class:`ucuie.train.TrainConfig` takes as they are.
TRAIN_CONFIG_KEYS = (*WARMING_SHARED_KEYS, "checkpoint_every", "log_every")  # BOOKKEEPING_KEYS


def train_config(training: Mapping, seed: int, warming: bool = False) -> TrainConfig:
    """The :class:`TrainConfig` of stage 2 (or, with ``warming``, stage 1) from the config's ``training``.

    Warming takes ``lr``, ``epochs`` and ``max_steps`` from ``training.warming``; ``max_steps: 0``
    means the epochs decide.
    """
    own = training["warming"] if warming else training
    return TrainConfig(
        lr=own["lr"],
        epochs=own["epochs"],
        max_steps=own["max_steps"] or None,
        seed=seed,
        **{key: training[key] for key in TRAIN_CONFIG_KEYS},
    )


def cap_per_task(instances: Sequence[Instance], size: int, seed: int) -> list[Instance]:
    """At most ``size`` instances of each task (0: all), a seeded sample in the original order."""
    if not size:
        return list(instances)
    by_task: dict[str, list[Instance]] = {}
    for instance in instances:
        by_task.setdefault(instance.task, []).append(instance)
    return [kept for task in sorted(by_task) for kept in sample(by_task[task], size, seed)]


def settings_key(settings: Mapping) -> str:
    """A short stable hash of JSON-able settings: variants with equal settings share outputs."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:10]


#: Training keys that do not change the trained weights (left out of the model key).
BOOKKEEPING_KEYS = ("checkpoint_every", "log_every")


def model_key(variant: Mapping) -> str:
    """The key of a variant's trained models: a hash of every setting that changes the weights.

    Outputs live under this key, so changing a hyper-parameter trains into a new folder and
    changing it back finds the earlier models again instead of retraining them.
    """
    training = {key: value for key, value in variant["training"].items() if key not in (*BOOKKEEPING_KEYS, "seeds")}
    return settings_key(_with_instruction_set({"adapter": variant["adapter"], "training": training}, variant))


def model_id(variant: str, key: str, training_set: str, seed: int) -> str:
    """The path segment of one trained model: ``<variant>/<key>/<training set>/seed-<seed>``."""
    return f"{variant}/{key}/{training_set}/seed-{seed}"


def low_resource_set(fraction: float) -> str:
    """Training-set name of a low-resource fraction, e.g. ``low-0.1``."""
    return f"low-{fraction}"


def comparison_table(columns: Mapping[str, Sequence[Sequence[Mapping]]], held_out: Collection[str] = ()) -> pd.DataFrame:
    """Models side by side: ``columns`` maps a column label to one list of score results per seed.

    Each score result is the JSON written by the ``score`` rule for one dataset.  Returns the
    long layout of :func:`ucuie.evaluation.results_table` (setting, task, metric, dataset) with a
    ``<label>`` (mean offset F1 in %) and ``<label> std`` column per model.
    """
    keys = list(TABLE_KEYS)
    merged: pd.DataFrame | None = None
    order: dict[tuple, None] = {}
    for label, runs in columns.items():
        if not runs:
            raise ValueError(f"table column {label!r} has no runs")
        per_seed = pd.concat([results_table(results, held_out).assign(run=i) for i, results in enumerate(runs)])
        order.update(dict.fromkeys(per_seed[keys].itertuples(index=False, name=None)))
        grouped = per_seed.groupby(keys, sort=False)["F1"]
        column = grouped.mean().round(2).rename(label).to_frame()
        column[f"{label} std"] = grouped.std(ddof=0).round(2)
        merged = column if merged is None else merged.join(column, how="outer")
    # An outer join sorts the rows; put them back in the paper's order (tasks in table order,
    # each task's datasets then its average, the Average last), as the columns first list them.
    return merged.reindex(list(order)).reset_index()


def to_markdown(table: pd.DataFrame, index: Sequence[str] = TABLE_KEYS) -> str:
    """The table with ``mean ± std`` cells (``mean`` alone where every std is 0 or missing).

    ``index`` are the columns that name a row (Tables 1-3: setting, task, metric, dataset); every
    other column ``<label>`` is a mean, with its std in ``<label> std`` if the table has one.
    """
    labels = [c for c in table.columns if c not in index and not c.endswith(" std")]
    shown = table[list(index)].copy()
    for label in labels:
        std = table[f"{label} std"].fillna(0) if f"{label} std" in table else pd.Series(0.0, index=table.index)
        with_std = bool((std > 0).any())
        shown[label] = [
            "-" if pd.isna(mean) else (f"{mean:.2f} ± {s:.2f}" if with_std else f"{mean:.2f}")
            for mean, s in zip(table[label], std)
        ]
    return shown.to_markdown(index=False) + "\n"


def write_table(table: pd.DataFrame, csv: str | Path, md: str | Path, index: Sequence[str] = TABLE_KEYS) -> None:
    """Write a table as CSV and as Markdown (:func:`to_markdown`), and print the Markdown."""
    table.to_csv(csv, index=False)
    text = to_markdown(table, index)
    Path(md).write_text(text, encoding="utf-8")
    print(text)
