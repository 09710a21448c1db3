"""``ucuie bench-pipeline``: how long the workflow takes, and how our training loop compares.

Three measurements, each printed as a table with its target:

1. **Workflow.**  Runs the default target (or ``--target``) of a config in its own working
   directory, from scratch with ``--fresh``, and times it; then runs it again and times the
   no-op rerun (Snakemake must find nothing to do).  Every rule writes a Snakemake ``benchmark:``
   file (``results/<run>/benchmarks/<rule>/...``); their wall seconds are summed per rule family
   (:data:`FAMILIES`).  Targets on the 2-core reference machine: whole demo <= 45 min, no-op
   rerun <= 5 s.
2. **Training throughput.**  The workflow's single-LoRA baseline (``capability_experts=[]``: the
   shared expert alone, one LoRA r=4 on gate/up/down) trained by our loop against
   ``transformers.Trainer`` with PEFT LoRA of the same rank, alpha and placement, on the same
   model, instances, tokenisation, batch size, learning rate and number of steps, interleaved
   round after round.  Tokens/s counts real (non-padding) tokens over the training loop's wall
   time.  Target: ours >= 0.95x the Trainer's.
3. **Padding.**  Share of pad tokens in our length-grouped batches over one whole epoch of the
   training instances (and, for scale, with plain shuffled batches).  Target <= 10%.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

#: rule family -> rules (the benchmark folder of each rule is its name)
FAMILIES: dict[str, tuple[str, ...]] = {
    "data": ("backbone", "demo_corpus", "convert", "low_resource", "instances", "subtask_instances", "base_pool", "base_instances", "base_subtask_instances"),
    "paraphrase": ("paraphrase",),
    "perturbation": ("perturb_ner", "perturb_re", "perturb_ee", "robustness_instances", "augmented_instances"),
    "training": ("warm", "train", "lda_train", "lda_baseline"),
    "prediction": ("predict_backbone", "predict_model", "predict_robustness", "lda_losses", "lda_dev", "predict_capabilities", "routing_weights"),
    "scoring and reports": ("score", "table", "experiment_table", "figures", "score_robustness", "robustness_table", "lda_final", "lda_table",
                            "score_capabilities", "ablation_table", "no_paraphrase_table", "capability_tables", "subexpert_figure", "routing_figure"),
}
TARGETS = {"whole_minutes": 45.0, "noop_seconds": 5.0, "throughput_ratio": 0.95, "padding_share": 0.10}
ROOT = Path(__file__).resolve().parents[1]


def family_of(rule: str) -> str:
    return next((family for family, rules in FAMILIES.items() if rule in rules), "other")


# ---------------------------------------------------------------------------------------------
# 1. The workflow


def read_benchmarks(folder: Path):
    """One row per benchmark file under ``folder``: rule, family, file, seconds, max_rss (MiB)."""
    import pandas as pd

    rows = []
    for path in sorted(folder.rglob("*.tsv")):
        rule = path.relative_to(folder).parts[0]
        table = pd.read_csv(path, sep="\t")
        if table.empty:
            raise ValueError(f"benchmark file {path} has no measurement row")
        rows.append({"rule": rule, "family": family_of(rule), "file": str(path.relative_to(folder)), "seconds": float(table["s"].iloc[-1]),
                     "max_rss": pd.to_numeric(table["max_rss"], errors="coerce").iloc[-1]})
    return pd.DataFrame(rows, columns=["rule", "family", "file", "seconds", "max_rss"])


def family_summary(benchmarks) -> list[dict[str, Any]]:
    """Per family: jobs, summed job minutes, the longest job; families in :data:`FAMILIES` order."""
    order = [*FAMILIES, "other"]
    rows = []
    for family, group in sorted(benchmarks.groupby("family"), key=lambda item: order.index(item[0])):
        longest = group.loc[group["seconds"].idxmax()]
        rows.append({"family": family, "rules": ", ".join(sorted(group["rule"].unique())), "jobs": len(group),
                     "job_minutes": round(group["seconds"].sum() / 60, 2), "longest_job_s": round(float(longest["seconds"]), 1), "longest": longest["file"]})
    return rows


def snakemake(workdir: Path, configfile: Path, cores: int, targets: list[str], log: Path) -> tuple[float, str]:
    """Run Snakemake in ``workdir``; (wall seconds, everything it printed, also written to ``log``)."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(workdir), "--cores", str(cores),
               "--configfile", str(configfile), "--replace-workflow-config",
               "--rerun-incomplete",  # outputs a killed earlier run left half-written are redone, not an error
               *targets]
    print("$", " ".join(command), flush=True)
    started = time.perf_counter()
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - started
    log.write_text(result.stdout)
    if result.returncode != 0:
        raise RuntimeError(f"snakemake failed (exit {result.returncode}); its output is in {log}")
    return seconds, result.stdout


def bench_workflow(args: argparse.Namespace) -> dict[str, Any]:
    workdir, configfile = args.workdir.resolve(), args.configfile.resolve()
    if args.fresh and workdir.exists():
        shutil.rmtree(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    targets = [args.target] if args.target else []
    result: dict[str, Any] = {"workdir": str(workdir), "configfile": str(configfile), "cores": args.cores, "target": args.target or "default"}
    if not args.no_run:
        started_empty = not any((workdir / "results").glob("*/benchmarks"))
        seconds, _ = snakemake(workdir, configfile, args.cores, targets, workdir / "bench-run.log")
        result.update(whole_seconds=round(seconds, 1), from_scratch=started_empty)
        print(f"whole target: {seconds / 60:.1f} min ({'from scratch' if started_empty else 'NOT from scratch: outputs were already there'})", flush=True)
    noop, output = snakemake(workdir, configfile, args.cores, targets, workdir / "bench-noop.log")
    if "Nothing to be done" not in output:
        raise RuntimeError(f"the rerun was not a no-op: Snakemake found jobs to run (see {workdir / 'bench-noop.log'})")
    result["noop_seconds"] = round(noop, 2)
    folders = sorted((workdir / "results").glob("*/benchmarks"))
    if not folders:
        raise RuntimeError(f"no benchmark files under {workdir / 'results'}: run the workflow there first")
    benchmarks = read_benchmarks(folders[0])
    result["families"] = family_summary(benchmarks)
    result["job_minutes"] = round(benchmarks["seconds"].sum() / 60, 2)
    result["jobs"] = len(benchmarks)
    return result


# ---------------------------------------------------------------------------------------------
# 2 and 3. Our training loop against transformers.Trainer + PEFT; padding


def _encoded(backbone: Path, instances: list[Path], max_length: int):
    from ucuie.backbone import load_backbone
    from ucuie.train import encode_examples, load_instances

    _, tokenizer = load_backbone(backbone)
    loaded = load_instances(instances)
    examples, _ = encode_examples(tokenizer, loaded, max_length)
    return loaded, examples, tokenizer


def run_ours(backbone: Path, instances, out: Path, args: argparse.Namespace) -> dict[str, float]:
    from ucuie.adapter import HierarchicalMoEConfig
    from ucuie.train import TrainConfig, train

    config = TrainConfig(lr=args.lr, epochs=None, max_steps=args.steps, batch_size=args.batch, max_length=args.max_length, seed=args.seed,
                         log_every=args.steps, checkpoint_every=None)
    summary = train(backbone, instances, out, adapter_config=HierarchicalMoEConfig(capability_experts=()), config=config)
    return {"tokens": summary["tokens"], "seconds": summary["seconds"], "tokens_per_s": summary["tokens"] / summary["seconds"],
            "padding_share": summary["padding_share"], "trainable": summary["trainable_parameters"]}


def run_trainer(backbone: Path, examples, pad: int, out: Path, args: argparse.Namespace) -> dict[str, float]:
    """``transformers.Trainer`` + PEFT LoRA on our encoded examples (same tokens, labels, batches' size)."""
    import torch
    from peft import get_peft_model
    from transformers import Trainer, TrainingArguments

    from ucuie.adapter import HierarchicalMoEConfig
    from ucuie.adapter.bench import peft_lora_config
    from ucuie.backbone import load_backbone

    model, _ = load_backbone(backbone)
    model = get_peft_model(model, peft_lora_config(HierarchicalMoEConfig(capability_experts=())))
    counts = {"real": 0, "padded": 0}

    def count(module, args, kwargs):
        # Counted where the model runs: the data loader fetches one batch ahead of training.
        mask = kwargs["attention_mask"]
        counts["real"] += int(mask.sum())
        counts["padded"] += mask.numel()

    model.register_forward_pre_hook(count, with_kwargs=True)

    def collate(features: list[dict]) -> dict[str, torch.Tensor]:
        width = max(len(f["input_ids"]) for f in features)
        pad_to = lambda values, fill: values + [fill] * (width - len(values))  # noqa: E731
        return {"input_ids": torch.tensor([pad_to(f["input_ids"], pad) for f in features]),
                "attention_mask": torch.tensor([pad_to([1] * len(f["input_ids"]), 0) for f in features]),
                "labels": torch.tensor([pad_to(f["labels"], -100) for f in features])}

    dataset = [{"input_ids": e.input_ids, "labels": e.labels} for e in examples]
    training_args = TrainingArguments(
        output_dir=str(out), per_device_train_batch_size=args.batch, max_steps=args.steps, learning_rate=args.lr, lr_scheduler_type="linear",
        warmup_steps=0, weight_decay=0.0, max_grad_norm=1.0, train_sampling_strategy="group_by_length", logging_steps=args.steps, save_strategy="no",
        report_to=[], seed=args.seed, remove_unused_columns=False, disable_tqdm=True, use_cpu=not torch.cuda.is_available(), dataloader_num_workers=0,
    )
    trainer = Trainer(model=model, args=training_args, train_dataset=dataset, data_collator=collate)
    metrics = trainer.train().metrics
    seconds = float(metrics["train_runtime"])
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    return {"tokens": counts["real"], "seconds": seconds, "tokens_per_s": counts["real"] / seconds,
            "padding_share": 1 - counts["real"] / counts["padded"], "trainable": trainable}


def epoch_padding(examples, batch_size: int, seed: int) -> dict[str, float]:
    from ucuie.train import padding_share, plan_batches

    lengths = [len(e) for e in examples]
    return {"length_grouped": padding_share(lengths, plan_batches(lengths, batch_size, seed, 0)),
            "shuffled": padding_share(lengths, plan_batches(lengths, batch_size, seed, 0, group_by_length=False))}


def bench_training(args: argparse.Namespace, backbone: Path, instances: list[Path]) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    loaded, examples, tokenizer = _encoded(backbone, instances, args.max_length)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    runs: dict[str, list[dict[str, float]]] = {"ours": [], "trainer": []}
    with tempfile.TemporaryDirectory(prefix="ucuie-bench-") as tmp:
        for round_ in range(args.rounds):
            order = ("ours", "trainer") if round_ % 2 == 0 else ("trainer", "ours")
            for name in order:
                out = Path(tmp) / f"{name}-{round_}"
                run = run_ours(backbone, loaded, out, args) if name == "ours" else run_trainer(backbone, examples, pad, out, args)
                runs[name].append(run)
                print(f"round {round_ + 1}: {name:7s} {run['tokens_per_s']:8.1f} tokens/s ({run['tokens']} tokens in {run['seconds']:.1f} s, padding {100 * run['padding_share']:.1f}%)", flush=True)
    median = {name: statistics.median(r["tokens_per_s"] for r in rs) for name, rs in runs.items()}
    if runs["ours"][0]["trainable"] != runs["trainer"][0]["trainable"]:
        raise RuntimeError(f"the two adapters differ in size: ours {runs['ours'][0]['trainable']} vs PEFT {runs['trainer'][0]['trainable']} trainable parameters")
    return {
        "instances": len(loaded), "examples": len(examples), "steps": args.steps, "batch": args.batch, "threads": args.threads,
        "trainable_parameters": runs["ours"][0]["trainable"], "runs": runs,
        "ours_tokens_per_s": round(median["ours"], 1), "trainer_tokens_per_s": round(median["trainer"], 1),
        "throughput_ratio": round(median["ours"] / median["trainer"], 3),
        "padding": {k: round(v, 4) for k, v in epoch_padding(examples, args.batch, args.seed).items()},
    }


# ---------------------------------------------------------------------------------------------
# Command line


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--configfile", type=Path, default=ROOT / "config.yaml", help="workflow config (default: the demo, config.yaml)")
    parser.add_argument("--workdir", type=Path, default=Path("results/bench-pipeline"), help="Snakemake working directory of the measured run")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--target", help="a target instead of the default one")
    parser.add_argument("--fresh", action="store_true", help="delete --workdir first, so the whole target runs from scratch")
    parser.add_argument("--no-run", action="store_true", help="do not run the workflow: report the benchmark files already in --workdir and time the no-op rerun")
    parser.add_argument("--skip-workflow", action="store_true", help="only the training-throughput and padding measurements")
    parser.add_argument("--skip-training", action="store_true", help="only the workflow measurements")
    parser.add_argument("--backbone", type=Path, help="backbone folder for the throughput run (default: the one the workflow materialised in --workdir)")
    parser.add_argument("--instances", type=Path, nargs="+", help="training instance files (default: results/<run>/instances/*/train.jsonl in --workdir)")
    parser.add_argument("--steps", type=int, default=20, help="optimizer steps per throughput run")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the two loops")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results here")


def _training_inputs(args: argparse.Namespace) -> tuple[Path, list[Path]]:
    import yaml

    workdir = args.workdir.resolve()
    config = yaml.safe_load(args.configfile.read_text())
    backbone = args.backbone or workdir / "resources" / "backbone" / config["backbone"]["name"]
    instances = args.instances or sorted((workdir / "results" / config["run"] / "instances").glob("*/train.jsonl"))
    if not (backbone / "config.json").is_file():
        raise FileNotFoundError(f"no backbone at {backbone}: run the workflow in --workdir first or give --backbone")
    if not instances:
        raise FileNotFoundError(f"no training instances under {workdir / 'results' / config['run'] / 'instances'}: run the workflow first or give --instances")
    return backbone, instances


def report(result: dict[str, Any]) -> None:
    from tabulate import tabulate

    workflow, training = result.get("workflow"), result.get("training")
    if workflow:
        print(f"\nWorkflow ({workflow['configfile']}, target {workflow['target']}, --cores {workflow['cores']}): {workflow['jobs']} jobs, {workflow['job_minutes']} job minutes")
        print(tabulate(workflow["families"], headers="keys", tablefmt="github"))
        if "whole_seconds" in workflow:
            print(f"whole target: {workflow['whole_seconds'] / 60:.1f} min (target <= {TARGETS['whole_minutes']:.0f} min on 2 cores){'' if workflow['from_scratch'] else ' -- NOT from scratch'}")
        print(f"no-op rerun: {workflow['noop_seconds']:.2f} s (target <= {TARGETS['noop_seconds']:.0f} s)")
    if training:
        print(f"\nTraining throughput: single LoRA r=4 ({training['trainable_parameters']} parameters), {training['steps']} steps of {training['batch']}, "
              f"{training['threads']} threads, median of {len(training['runs']['ours'])} interleaved runs each")
        print(f"ours {training['ours_tokens_per_s']} tokens/s, transformers.Trainer + PEFT {training['trainer_tokens_per_s']} tokens/s: "
              f"ratio {training['throughput_ratio']} (target >= {TARGETS['throughput_ratio']})")
        padding = training["padding"]
        print(f"padding over one epoch of {training['examples']} examples: {100 * padding['length_grouped']:.1f}% with our length grouping "
              f"(target <= {100 * TARGETS['padding_share']:.0f}%), {100 * padding['shuffled']:.1f}% with shuffled batches")


def run(args: argparse.Namespace) -> int:
    result: dict[str, Any] = {"date": time.strftime("%Y-%m-%d %H:%M")}
    try:
        if not args.skip_workflow:
            result["workflow"] = bench_workflow(args)
        if not args.skip_training:
            result["training"] = bench_training(args, *_training_inputs(args))
    except (RuntimeError, FileNotFoundError, ValueError) as exc:
        print(f"ucuie bench-pipeline: {exc}", file=sys.stderr)
        return 1
    report(result)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result, indent=1, default=float) + "\n")
    return 0
