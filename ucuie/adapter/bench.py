"""``ucuie bench-adapter``: the fused hierarchical adapter against PEFT LoRA and the reference loop.

Each variant runs in its own subprocess, so its peak memory (``ru_maxrss``) is its own; variants
run interleaved, round after round, because the machine is shared and timings drift.  Measured:
median training-step time (forward, aux losses, backward, AdamW), peak resident memory, and
greedy-generation throughput with the KV cache.  The last line is
``fused_over_lora_train_step=<ratio>``.

Variants: ``lora`` = PEFT LoRA r=4 on the same three projections; ``fused`` = the paper's
adapter (:class:`HierarchicalMoELinear`); ``reference`` = the same adapter as a loop over LoRA
modules (:mod:`ucuie.adapter.reference`).

Models: a real HF folder (``--model``), a small random LLaMA (``--tiny``), or a named shape of
:data:`ucuie.adapter.count_params.SHAPES` with random weights and ``--layers`` decoder layers
(``--shape llama-2-7b --layers 4 --device cuda --dtype bfloat16``: a LLaMA-2-7B-shaped stack for
a GPU).  With ``--dtype bfloat16`` the base and both adapters are bf16 (PEFT's upcast of LoRA
weights is off), so the variants differ only in the adapter.  On CUDA, peak memory is
``torch.cuda.max_memory_allocated``; on the CPU it is the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from ucuie.adapter.count_params import SHAPES

VARIANTS = ("lora", "fused", "reference")
DTYPES = ("float32", "bfloat16")
DEFAULT_MODEL = Path("resources/backbone/smollm2-135m")
#: A small random LLaMA for --tiny: big enough that matmuls, not Python, dominate a step.
TINY_SHAPE = {"vocab_size": 2048, "hidden_size": 256, "intermediate_size": 688, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--model", type=Path, default=DEFAULT_MODEL, help=f"HF model folder (default: {DEFAULT_MODEL}, made by `ucuie backbone`)")
    source.add_argument("--tiny", action="store_true", help="a small random LLaMA instead of a real backbone")
    source.add_argument("--shape", choices=sorted(SHAPES), help="a named model shape with random weights (e.g. llama-2-7b; see --layers)")
    parser.add_argument("--layers", type=int, help="with --shape: decoder layers to build (default: the shape's own count)")
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda (default: cpu)")
    parser.add_argument("--dtype", choices=DTYPES, default="float32", help="weight dtype of base and adapters (default: float32)")
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS,
        help="variants to run (default: all three with --tiny; lora and fused on a real model, where the "
        "reference loop needs far more memory: about 9 GiB for SmolLM2 at --batch 2, and more than 24 GiB at 8)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each runs every variant once")
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--seq", type=int, default=128, help="training sequence length")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per run (after one warm-up step)")
    parser.add_argument("--gen-batch", type=int, default=16, help="generation batch size")
    parser.add_argument("--prompt-len", type=int, default=64, help="generation prompt length")
    parser.add_argument("--new-tokens", type=int, default=32, help="greedy tokens generated per prompt")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)


def _peak_mib(device) -> float:
    """Peak memory so far: CUDA memory allocated by torch on a GPU, else the process's peak RSS."""
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def _load_model(args: argparse.Namespace):
    import torch
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    dtype, device = getattr(torch, args.dtype), torch.device(args.device)
    if args.tiny or args.shape:
        shape = dict(TINY_SHAPE if args.tiny else SHAPES[args.shape])
        if args.layers is not None:
            shape["num_hidden_layers"] = args.layers
        with device:
            return LlamaForCausalLM(LlamaConfig(**shape)).to(dtype)
    if not (args.model / "config.json").is_file():
        raise SystemExit(f"ucuie bench-adapter: {args.model} is not an HF model folder; run `ucuie backbone --out {args.model}` or pass --tiny")
    return AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype).to(device)


def _prepare(variant: str, model):
    from peft import LoraConfig, get_peft_model

    from ucuie.adapter import HierarchicalMoEConfig, attach_adapter
    from ucuie.adapter.reference import use_reference_layers

    config = HierarchicalMoEConfig()
    if variant == "lora":
        targets = [pattern.rpartition(".")[2] for pattern in config.target_modules]
        lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=0.0, target_modules=targets)
        return get_peft_model(model, lora, autocast_adapter_dtype=False)  # adapter in the base's dtype, as ours
    model = attach_adapter(model, config)
    return use_reference_layers(model) if variant == "reference" else model


def _worker(args: argparse.Namespace) -> dict:
    """Run one variant in this process and return its measurements."""
    import contextlib

    import torch

    from ucuie.adapter import capability_label_tensor, collect_aux_losses, routing
    from ucuie.tasks import TASKS

    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = _prepare(args.worker, _load_model(args))
    hierarchical = args.worker != "lora"
    vocab = model.config.vocab_size
    generator = torch.Generator().manual_seed(1)

    def clock() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize(device)  # kernels run asynchronously: wait before reading the clock
        return time.perf_counter()

    def routed(ids, attention):
        if not hierarchical:
            return contextlib.nullcontext()
        # The second quarter of the columns plays the instruction (real tokens in every row).
        instruction = torch.zeros_like(attention)
        instruction[:, ids.shape[1] // 4 : ids.shape[1] // 2] = 1
        labels = capability_label_tensor([TASKS[i % len(TASKS)] for i in range(ids.shape[0])]).to(device)
        return routing(model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels)

    ids = torch.randint(3, vocab, (args.batch, args.seq), generator=generator).to(device)
    attention = torch.ones_like(ids)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    model.train()
    memory_loaded = _peak_mib(device)
    step_times = []
    for step in range(args.steps + 1):
        start = clock()
        optimizer.zero_grad(set_to_none=True)
        with routed(ids, attention):
            loss = model(input_ids=ids, attention_mask=attention, labels=ids).loss
            if hierarchical:
                aux = collect_aux_losses(model)
                loss = loss + 0.1 * aux.bce + 0.1 * aux.entropy  # Eq. 10
            loss.backward()
        optimizer.step()
        if step:  # the first step warms up allocator and kernels
            step_times.append(clock() - start)
    memory_train = _peak_mib(device)

    model.eval()
    prompts = torch.randint(3, vocab, (args.gen_batch, args.prompt_len), generator=generator).to(device)
    prompt_attention = torch.ones_like(prompts)
    # Left padding, as in evaluation: every other prompt is shorter by a quarter.
    prompt_attention[1::2, : args.prompt_len // 4] = 0
    with torch.no_grad():
        timings = []
        for new_tokens in (2, args.new_tokens):  # the 2-token run warms up
            start = clock()
            with routed(prompts, prompt_attention):
                model.generate(
                    input_ids=prompts, attention_mask=prompt_attention, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                    do_sample=False, pad_token_id=0, eos_token_id=None,
                )
            timings.append(clock() - start)
    return {
        "variant": args.worker,
        "train_step_s": statistics.median(step_times),
        "generate_tokens_per_s": args.gen_batch * args.new_tokens / timings[1],
        "peak_mib": _peak_mib(device),
        "loaded_mib": memory_loaded,
        "train_mib": memory_train,
        "memory": "cuda_allocated" if device.type == "cuda" else "rss",
        "layers": model.config.num_hidden_layers,
        "dtypes": sorted({str(p.dtype).removeprefix("torch.") for p in model.parameters()}),
    }


def _run_variant(variant: str, argv: list[str]) -> dict:
    """One variant in a fresh subprocess; ``{"failed": reason}`` if it did not finish."""
    command = [sys.executable, "-m", "ucuie.cli", "bench-adapter", *argv, "--worker", variant]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode < 0:
        return {"failed": f"killed by signal {-done.returncode}" + (" (out of memory?)" if -done.returncode == 9 else "")}
    if done.returncode != 0:
        return {"failed": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


#: Measures reported per variant, each with its ratio to LoRA.
MEASURES = ("train_step_s", "peak_mib", "generate_tokens_per_s")


def _summarise(runs: dict[str, list[dict]]) -> dict[str, dict]:
    """Medians per variant, and per-round paired ratios to LoRA (pairs cancel slow drift)."""
    summary = {}
    for variant, results in runs.items():
        done = [r for r in results if "failed" not in r]
        if not done:
            summary[variant] = {"failed": results[0]["failed"]}
            continue
        entry = {key: statistics.median(r[key] for r in done) for key in MEASURES}
        entry["train_over_loaded_mib"] = statistics.median(r["train_mib"] - r["loaded_mib"] for r in done)
        if "lora" in runs:
            pairs = [(r, base) for r, base in zip(results, runs["lora"]) if "failed" not in r and "failed" not in base]
            for key in MEASURES:
                entry[f"{key}_over_lora"] = statistics.median(r[key] / base[key] for r, base in pairs) if pairs else float("nan")
        summary[variant] = entry
    return summary


def run(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(_worker(args)))
        return 0
    if args.layers is not None and not args.shape:
        raise SystemExit("ucuie bench-adapter: --layers goes with --shape")
    if args.variants is None:
        args.variants = list(VARIANTS) if args.tiny else ["lora", "fused"]
    argv = _worker_argv(args)
    runs: dict[str, list[dict]] = {variant: [] for variant in args.variants}
    for round_index in range(args.rounds):
        # Rotate the order each round so no variant always runs first on a cold machine.
        shift = round_index % len(args.variants)
        for variant in args.variants[shift:] + args.variants[:shift]:
            result = _run_variant(variant, argv)
            runs[variant].append(result)
            if "failed" in result:
                print(f"round {round_index + 1} {variant}: failed, {result['failed']}", file=sys.stderr)
            else:
                print(f"round {round_index + 1} {variant}: step {result['train_step_s']:.3f} s, {result['generate_tokens_per_s']:.1f} tok/s, peak {result['peak_mib']:.0f} MiB", file=sys.stderr)
    summary = _summarise(runs)
    print(f"{'variant':<10} {'step_s':>8} {'x_lora':>7} {'peak_MiB':>9} {'x_lora':>7} {'train_MiB':>9} {'tok/s':>8} {'x_lora':>7}")
    for variant, entry in summary.items():
        if "failed" in entry:
            print(f"{variant:<10} failed: {entry['failed']}")
            continue
        ratio = {key: entry.get(f"{key}_over_lora", float("nan")) for key in MEASURES}
        print(
            f"{variant:<10} {entry['train_step_s']:>8.3f} {ratio['train_step_s']:>7.3f} {entry['peak_mib']:>9.0f} {ratio['peak_mib']:>7.3f} "
            f"{entry['train_over_loaded_mib']:>9.0f} {entry['generate_tokens_per_s']:>8.1f} {ratio['generate_tokens_per_s']:>7.3f}"
        )
    if args.json:
        args.json.write_text(json.dumps({"args": argv, "summary": summary, "runs": runs}, indent=1) + "\n")
    fused = summary.get("fused", {})
    if "train_step_s_over_lora" in fused:
        print(f"fused_over_lora_train_step={fused['train_step_s_over_lora']:.3f}")
    return 0


def _worker_argv(args: argparse.Namespace) -> list[str]:
    argv = ["--tiny"] if args.tiny else ["--shape", args.shape] if args.shape else ["--model", str(args.model)]
    if args.layers is not None:
        argv += ["--layers", str(args.layers)]
    for name in ("batch", "seq", "steps", "gen_batch", "prompt_len", "new_tokens", "threads", "device", "dtype"):
        argv += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return argv
