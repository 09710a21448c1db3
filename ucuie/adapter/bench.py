"""``ucuie bench-adapter``: the fused hierarchical adapter against PEFT LoRA and the reference loop.

Timing: every variant side by side in one process, taking turns step by step, round after
round (the order rotates each round), because the machine is shared and timings drift; ratios
to LoRA are paired per round.  Memory: each variant alone in a fresh subprocess, so its peak
(``ru_maxrss``) is its own.  Measured: median training-step time (forward, aux losses,
backward, AdamW), peak memory, and greedy-generation throughput with the KV cache.  The last
line is ``fused_over_lora_train_step=<ratio>``.

Variants: ``lora`` = PEFT LoRA r=4 on the same three projections; ``fused`` = the paper's
adapter (:class:`HierarchicalMoELinear`); ``reference`` = the same adapter as a loop over LoRA
modules (:mod:`ucuie.adapter.reference`); ``lora-wide`` (on request) = PEFT LoRA whose rank is
the adapter's total, n*r = 52 for the paper's adapter, at the same alpha/r: what the adapter's
width costs without any routing, so the fused adapter's gap to ``lora`` splits into width and
routing.

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

VARIANTS = ("lora", "lora-wide", "fused", "reference")
PEFT_VARIANTS = ("lora", "lora-wide")
DTYPES = ("float32", "bfloat16")
#: Generations per variant and round in the timing run (their median counts).
GENERATIONS_PER_ROUND = 3
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
        help="variants to run (default: all with --tiny; lora and fused on a real model, where the "
        "reference loop needs far more memory: about 9 GiB for SmolLM2 at --batch 2, and more than 24 GiB at 8)",
    )
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds; each runs every variant once")
    parser.add_argument("--batch", type=int, default=8, help="training batch size")
    parser.add_argument("--seq", type=int, default=128, help="training sequence length")
    parser.add_argument("--steps", type=int, default=4, help="timed training steps per variant and round (after one warm-up step)")
    parser.add_argument("--gen-batch", type=int, default=16, help="generation batch size")
    parser.add_argument("--prompt-len", type=int, default=64, help="generation prompt length")
    parser.add_argument("--new-tokens", type=int, default=32, help="greedy tokens generated per prompt")
    parser.add_argument("--threads", type=int, default=2, help="torch threads")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    parser.add_argument("--worker", choices=VARIANTS, help=argparse.SUPPRESS)
    parser.add_argument("--timing-worker", action="store_true", help=argparse.SUPPRESS)


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


def peft_lora_config(config, rank: int | None = None):
    """PEFT LoRA with the rank, alpha and placement of ``config`` (a HierarchicalMoEConfig), no
    dropout: the baseline of this benchmark and of ``ucuie bench-pipeline``.  ``rank`` overrides
    the rank, alpha following so that alpha/r stays the adapter's scaling."""
    from peft import LoraConfig

    rank, alpha = (config.rank, config.alpha) if rank is None else (rank, config.scaling * rank)
    targets = sorted({pattern.rpartition(".")[2] for pattern in config.target_modules})
    return LoraConfig(r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets)


def _prepare(variant: str, model):
    from peft import get_peft_model

    from ucuie.adapter import HierarchicalMoEConfig, attach_adapter
    from ucuie.adapter.reference import use_reference_layers

    config = HierarchicalMoEConfig()
    if variant in PEFT_VARIANTS:
        rank = config.num_loras * config.rank if variant == "lora-wide" else None
        return get_peft_model(model, peft_lora_config(config, rank), autocast_adapter_dtype=False)  # adapter in the base's dtype, as ours
    model = attach_adapter(model, config)
    return use_reference_layers(model) if variant == "reference" else model


class _Variant:
    """One variant's model, optimizer and inputs (the same for every variant): times a training
    step (forward, aux losses, backward, AdamW) and a greedy generation with the KV cache."""

    def __init__(self, name: str, args: argparse.Namespace):
        import torch

        self.name, self.args, self.device = name, args, torch.device(args.device)
        self.model = _prepare(name, _load_model(args))
        self.hierarchical = name not in PEFT_VARIANTS
        vocab = self.model.config.vocab_size
        generator = torch.Generator().manual_seed(1)
        self.ids = torch.randint(3, vocab, (args.batch, args.seq), generator=generator).to(self.device)
        self.attention = torch.ones_like(self.ids)
        self.prompts = torch.randint(3, vocab, (args.gen_batch, args.prompt_len), generator=generator).to(self.device)
        self.prompt_attention = torch.ones_like(self.prompts)
        # Left padding, as in evaluation: every other prompt is shorter by a quarter.
        self.prompt_attention[1::2, : args.prompt_len // 4] = 0
        self.optimizer = torch.optim.AdamW([p for p in self.model.parameters() if p.requires_grad], lr=1e-4)

    def clock(self) -> float:
        import torch

        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)  # kernels run asynchronously: wait before reading the clock
        return time.perf_counter()

    def routed(self, ids, attention):
        import contextlib

        from ucuie.adapter import capability_label_tensor, routing
        from ucuie.tasks import TASKS

        if not self.hierarchical:
            return contextlib.nullcontext()
        # The second quarter of the columns plays the instruction (real tokens in every row).
        instruction = attention.new_zeros(attention.shape)
        instruction[:, ids.shape[1] // 4 : ids.shape[1] // 2] = 1
        labels = capability_label_tensor([TASKS[i % len(TASKS)] for i in range(ids.shape[0])]).to(self.device)
        return routing(self.model, instruction_mask=instruction, attention_mask=attention, capability_labels=labels)

    def train_step(self) -> float:
        """Seconds of one training step."""
        from ucuie.adapter import collect_aux_losses

        self.model.train()
        start = self.clock()
        self.optimizer.zero_grad(set_to_none=True)
        with self.routed(self.ids, self.attention):
            loss = self.model(input_ids=self.ids, attention_mask=self.attention, labels=self.ids).loss
            if self.hierarchical:
                aux = collect_aux_losses(self.model)
                loss = loss + 0.1 * aux.bce + 0.1 * aux.entropy  # Eq. 10
            loss.backward()
        self.optimizer.step()
        return self.clock() - start

    def generate(self, new_tokens: int) -> float:
        """Generated tokens per second, greedy, every prompt ``new_tokens`` long."""
        import torch

        self.model.eval()
        with torch.no_grad():
            start = self.clock()
            with self.routed(self.prompts, self.prompt_attention):
                self.model.generate(
                    input_ids=self.prompts, attention_mask=self.prompt_attention, max_new_tokens=new_tokens,
                    min_new_tokens=new_tokens, do_sample=False, pad_token_id=0, eos_token_id=None,
                )
            return self.args.gen_batch * new_tokens / (self.clock() - start)


def _memory_worker(args: argparse.Namespace) -> dict:
    """One variant alone in this process: its peak memory when training and generating."""
    import torch

    torch.set_num_threads(args.threads)
    variant = _Variant(args.worker, args)
    loaded = _peak_mib(variant.device)
    for _ in range(2):  # the second step holds the optimizer state as well
        variant.train_step()
    trained = _peak_mib(variant.device)
    variant.generate(args.new_tokens)
    return {
        "variant": args.worker,
        "peak_mib": _peak_mib(variant.device),
        "loaded_mib": loaded,
        "train_mib": trained,
        "memory": "cuda_allocated" if variant.device.type == "cuda" else "rss",
        "layers": variant.model.config.num_hidden_layers,
        "dtypes": sorted({str(p.dtype).removeprefix("torch.") for p in variant.model.parameters()}),
        "trainable_params": sum(p.numel() for p in variant.model.parameters() if p.requires_grad),
    }


def _timing_worker(args: argparse.Namespace) -> dict:
    """Every variant in this one process, timed side by side; per round and variant, the median
    step time and the median generation throughput.

    Within a round the variants take turns step by step, then generation by generation (the
    order rotates each round), so adjacent measurements see the same machine: a shared machine
    drifts by tens of percent within minutes, and fresh processes differ in how the allocator
    maps their memory (the same variant's step took 4.2-5.5 s across fresh processes).
    """
    import torch

    torch.set_num_threads(args.threads)
    variants = [_Variant(name, args) for name in args.variants]
    for variant in variants:  # warm-up: allocator, kernels, optimizer state, the KV-cache path
        variant.train_step()
        variant.generate(2)
    rounds = []
    for round_index in range(args.rounds):
        shift = round_index % len(variants)
        order = variants[shift:] + variants[:shift]
        steps = {v.name: [] for v in variants}
        for _ in range(args.steps):
            for variant in order:
                steps[variant.name].append(variant.train_step())
        tokens = {v.name: [] for v in variants}
        for _ in range(GENERATIONS_PER_ROUND):
            for variant in order:
                tokens[variant.name].append(variant.generate(args.new_tokens))
        rounds.append({
            v.name: {"train_step_s": statistics.median(steps[v.name]), "generate_tokens_per_s": statistics.median(tokens[v.name])}
            for v in variants
        })
        print(f"round {round_index + 1}: " + ", ".join(f"{name} step {r['train_step_s']:.3f} s, {r['generate_tokens_per_s']:.1f} tok/s" for name, r in rounds[-1].items()), file=sys.stderr, flush=True)
    return {"rounds": rounds}


def _subprocess(argv: list[str], stream_stderr: bool = False) -> dict:
    """``ucuie bench-adapter <argv>`` in a fresh process: its last stdout line as JSON, or
    ``{"failed": reason}`` if it did not finish."""
    command = [sys.executable, "-m", "ucuie.cli", "bench-adapter", *argv]
    done = subprocess.run(command, stdout=subprocess.PIPE, stderr=None if stream_stderr else subprocess.PIPE, text=True)
    if done.returncode < 0:
        return {"failed": f"killed by signal {-done.returncode}" + (" (out of memory?)" if -done.returncode == 9 else "")}
    if done.returncode != 0:
        stderr = (done.stderr or "").strip()
        return {"failed": stderr.splitlines()[-1] if stderr else f"exit status {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


#: Measures reported per variant, each with its ratio to LoRA.
MEASURES = ("train_step_s", "peak_mib", "generate_tokens_per_s")


def _summarise(memory: dict[str, dict], rounds: list[dict[str, dict]]) -> dict[str, dict]:
    """Per variant: medians over rounds, ratios to LoRA paired per round (pairs cancel slow
    drift), and the peak memory of its own process with its ratio to LoRA's."""
    summary = {}
    for variant, run in memory.items():
        if "failed" in run:
            summary[variant] = {"failed": run["failed"]}
            continue
        entry = {key: statistics.median(r[variant][key] for r in rounds) for key in ("train_step_s", "generate_tokens_per_s")}
        entry["peak_mib"] = run["peak_mib"]
        entry["train_over_loaded_mib"] = run["train_mib"] - run["loaded_mib"]
        if "lora" in memory and "failed" not in memory["lora"]:
            for key in ("train_step_s", "generate_tokens_per_s"):
                entry[f"{key}_over_lora"] = statistics.median(r[variant][key] / r["lora"][key] for r in rounds)
            entry["peak_mib_over_lora"] = run["peak_mib"] / memory["lora"]["peak_mib"]
        summary[variant] = entry
    return summary


def run(args: argparse.Namespace) -> int:
    if args.worker:
        print(json.dumps(_memory_worker(args)))
        return 0
    if args.timing_worker:
        print(json.dumps(_timing_worker(args)))
        return 0
    if args.layers is not None and not args.shape:
        raise SystemExit("ucuie bench-adapter: --layers goes with --shape")
    if args.variants is None:
        args.variants = list(VARIANTS) if args.tiny else ["lora", "fused"]
    argv = _worker_argv(args)
    # Peak memory: each variant alone in a fresh process, so the peak is its own.
    memory = {}
    for variant in args.variants:
        memory[variant] = _subprocess([*argv, "--worker", variant])
        if "failed" in memory[variant]:
            print(f"{variant}: failed, {memory[variant]['failed']}", file=sys.stderr)
        else:
            print(f"{variant}: peak {memory[variant]['peak_mib']:.0f} MiB", file=sys.stderr, flush=True)
    # Time: the variants that fit, side by side in one process.
    timed = [variant for variant in args.variants if "failed" not in memory[variant]]
    if not timed:
        raise SystemExit("ucuie bench-adapter: every variant failed; see the lines above")
    timing = _subprocess([*argv, "--rounds", str(args.rounds), "--variants", *timed, "--timing-worker"], stream_stderr=True)
    if "failed" in timing:
        raise SystemExit(f"ucuie bench-adapter: the timing run failed: {timing['failed']}")
    summary = _summarise(memory, timing["rounds"])
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
        args.json.write_text(json.dumps({"args": argv, "summary": summary, "runs": {"memory": memory, "timing": timing["rounds"]}}, indent=1) + "\n")
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
