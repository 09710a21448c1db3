"""The training loop for both stages of UC-UIE (paper Section 3.5) and for LDA rounds.

One function, :func:`train`, loads a backbone, attaches the adapter (or loads one to start from)
and trains it on instances with the objective of Eq. 10::

    loss = L_task + gamma * L_bce + beta * L_entropy       # paper: gamma = beta = 0.1

``L_task`` is the cross-entropy over target tokens only (the prompt and the padding carry label
-100).  Two stages:

* ``"multitask"``: every batch runs under the adapter's own routing (soft: the task router reads
  the instruction tokens and L_bce pulls it towards each instance's capability labels; hard: the
  labels are the gates).  Adapters without capability experts (single LoRA, flat LoRA-MoE) train
  the same way; for them L_bce is zero.
* ``"warming"``: capability sub-task instances (task ``judging`` | ``locating`` |
  ``associating``); batches are homogeneous in sub-task and run under
  :func:`ucuie.adapter.force_capabilities` with that one capability, so only its expert and the
  shared expert are active.  The task router does not run (L_bce is zero; its parameters are frozen
  in this stage) and L_entropy balances the sub-experts of the active capability only.  Rows of
  switched-off experts are kept exactly as they were through each optimizer step (AdamW moves
  zero-gradient parameters by momentum and weight decay otherwise).

Batches are length-grouped and seeded by (seed, epoch) only, so a run killed after a checkpoint
resumes exactly.  Built on ``accelerate``: it runs unchanged under ``accelerate launch`` with
several processes.  See ``docs/training.md``.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ucuie.adapter import (
    HierarchicalMoEConfig,
    adapter_layers,
    adapter_parameters,
    attach_adapter,
    capability_label_tensor,
    collect_aux_losses,
    force_capabilities,
    load_adapter,
    routing,
    save_adapter,
)
from ucuie.adapter.context import STATE_ATTRIBUTE
from ucuie.adapter.model import CONFIG_FILE, WEIGHTS_FILE
from ucuie.jsonio import read_jsonl, write_json
from ucuie.prompts import Instance, encode_prompt
from ucuie.tasks import CAPABILITIES, capabilities_of

logger = logging.getLogger(__name__)

MULTITASK, WARMING = "multitask", "warming"
STAGES = (MULTITASK, WARMING)
#: Length grouping sorts inside mega-batches of this many batches (as transformers' LengthGroupedSampler).
MEGA_BATCH = 50
LOG_COLUMNS = ("step", "epoch", "lr", "loss", "task_loss", "bce", "entropy", *(f"task_gate/{c}" for c in CAPABILITIES), "tokens", "seconds")
CHECKPOINT, ADAPTER, LOG, SUMMARY = "checkpoint", "adapter", "log.csv", "summary.json"
#: TrainConfig keys that do not change the trained weights: a checkpoint resumes across changes to them.
RESUME_NEUTRAL = ("checkpoint_every", "log_every", "gradient_checkpointing")


class TrainConfigError(ValueError):
    """A training config key has a bad value; the message names the key."""


class TrainingError(RuntimeError):
    """Training cannot start or resume; the message names the file, instance or key."""


class TrainingInterrupted(RuntimeError):
    """Raised by ``stop_after_steps`` to simulate a kill (tests, budget-limited runs)."""


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings; defaults are the paper's where it gives them (Section 4.1).

    ``batch_size`` is per process and micro-batch: one optimizer step sees
    ``batch_size * grad_accum * processes`` samples.  Training stops after ``epochs`` epochs or
    ``max_steps`` optimizer steps, whichever comes first (either may be None, not both).
    ``max_length`` truncates longer prompt+target sequences on the right (None: never).
    ``isolate_experts`` (warming only) keeps switched-off experts' rows and AdamW moments unchanged
    through each step.  ``checkpoint_every`` (optimizer steps; None: never) and ``log_every`` do not
    change the result.
    """

    lr: float = 3e-4
    epochs: int | None = 3
    max_steps: int | None = None
    batch_size: int = 16
    grad_accum: int = 1
    gamma: float = 0.1
    beta: float = 0.1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_grad_norm: float | None = 1.0
    max_length: int | None = 1024
    seed: int = 0
    bf16: bool = False
    gradient_checkpointing: bool = False
    isolate_experts: bool = True
    group_by_length: bool = True
    checkpoint_every: int | None = 500
    log_every: int = 10

    def __post_init__(self) -> None:
        positive_ints = ("batch_size", "grad_accum", "log_every")
        optional_positive_ints = ("epochs", "max_steps", "max_length", "checkpoint_every")
        for key in positive_ints + optional_positive_ints:
            value = getattr(self, key)
            if value is None and key in optional_positive_ints:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise TrainConfigError(f"training config key {key!r} must be a positive integer{' or null' if key in optional_positive_ints else ''}, got {value!r}")
        if self.epochs is None and self.max_steps is None:
            raise TrainConfigError("training config keys 'epochs' and 'max_steps' are both null: set at least one")
        for key in ("lr", "gamma", "beta", "warmup_ratio", "weight_decay", "max_grad_norm"):
            value = getattr(self, key)
            if value is None and key == "max_grad_norm":
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise TrainConfigError(f"training config key {key!r} must be a non-negative number, got {value!r}")
        if self.lr <= 0:
            raise TrainConfigError(f"training config key 'lr' must be positive, got {self.lr!r}")
        if self.warmup_ratio >= 1:
            raise TrainConfigError(f"training config key 'warmup_ratio' must be in [0, 1), got {self.warmup_ratio!r}")
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise TrainConfigError(f"training config key 'seed' must be an integer, got {self.seed!r}")
        for key in ("bf16", "gradient_checkpointing", "isolate_experts", "group_by_length"):
            if not isinstance(getattr(self, key), bool):
                raise TrainConfigError(f"training config key {key!r} must be true or false, got {getattr(self, key)!r}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Build a config from a mapping (e.g. a YAML section); unknown keys are an error."""
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise TrainConfigError(f"training config key {key!r} is not known (known keys: {', '.join(known)})")
        return cls(**data)


# ---------------------------------------------------------------------------------------------
# Data: instances, encoding, collation


def load_instances(sources: Iterable[Instance | str | Path]) -> list[Instance]:
    """Instances given directly or read from JSON-lines files (a bad line names the file)."""
    instances: list[Instance] = []
    for source in sources:
        if isinstance(source, Instance):
            instances.append(source)
            continue
        path = Path(source)
        if not path.is_file():
            raise TrainingError(f"instance file {path} does not exist")
        for number, obj in enumerate(read_jsonl(path), start=1):
            try:
                instances.append(Instance.from_json(obj))
            except KeyError as exc:
                raise TrainingError(f"{path}: instance {number} lacks key {exc}") from None
            except TypeError as exc:
                raise TrainingError(f"{path}: instance {number} is not an instance object ({exc})") from None
    return instances


@dataclass
class Example:
    """One encoded training sample: token ids, task-instruction mask, labels (-100 off target)."""

    input_ids: list[int]
    instruction_mask: list[int]
    labels: list[int]
    task: str

    def __len__(self) -> int:
        return len(self.input_ids)


@dataclass
class EncodeStats:
    """What encoding did to the instances: how many were cut and how many lost their whole target."""

    instances: int = 0
    truncated: int = 0
    dropped: list[str] = field(default_factory=list)


def encode_examples(tokenizer, instances: Sequence[Instance], max_length: int | None) -> tuple[list[Example], EncodeStats]:
    """Encode prompt + target of each instance, cut on the right to ``max_length`` tokens.

    An instance whose target is cut away entirely has nothing to learn from and is dropped
    (its id is in the stats); the others keep their order.
    """
    stats = EncodeStats(instances=len(instances))
    examples = []
    for instance in instances:
        encoded = encode_prompt(tokenizer, instance, with_target=True)
        ids, mask, labels = encoded.input_ids, encoded.instruction_mask, encoded.labels
        if max_length is not None and len(ids) > max_length:
            stats.truncated += 1
            ids, mask, labels = ids[:max_length], mask[:max_length], labels[:max_length]
        # Position 0 predicts nothing, so a target token must sit at position 1 or later.
        if all(label == -100 for label in labels[1:]):
            stats.dropped.append(instance.id)
            continue
        examples.append(Example(ids, mask, labels, instance.task))
    return examples, stats


def collate(examples: Sequence[Example], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded batch tensors: ``input_ids``, ``attention_mask``, ``instruction_mask``,
    ``labels`` (-100 on prompt and padding) and ``capability_labels`` [B, 3]."""
    width = max(len(example) for example in examples)

    def padded(values: list[int], fill: int) -> list[int]:
        return values + [fill] * (width - len(values))

    return {
        "input_ids": torch.tensor([padded(e.input_ids, pad_token_id) for e in examples]),
        "attention_mask": torch.tensor([padded([1] * len(e), 0) for e in examples]),
        "instruction_mask": torch.tensor([padded(e.instruction_mask, 0) for e in examples]),
        "labels": torch.tensor([padded(e.labels, -100) for e in examples]),
        "capability_labels": capability_label_tensor([e.task for e in examples]),
    }


# ---------------------------------------------------------------------------------------------
# Batching


def _rng(seed: int, epoch: int) -> random.Random:
    digest = hashlib.sha256(f"ucuie-train:{seed}:{epoch}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _chunks(items: list[int], size: int) -> list[list[int]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def plan_batches(
    lengths: Sequence[int],
    batch_size: int,
    seed: int,
    epoch: int,
    groups: Sequence[str] | None = None,
    group_by_length: bool = True,
) -> list[list[int]]:
    """The batches (lists of sample indices) of one epoch; a function of (seed, epoch) alone.

    Samples are shuffled; with ``group_by_length`` they are then sorted by length (longest
    first) inside mega-batches of ``MEGA_BATCH * batch_size``, so a batch holds samples of
    similar length; finally the batch order is shuffled.  With ``groups`` (one key per sample)
    every batch is homogeneous in its key.
    """
    rng = _rng(seed, epoch)
    members: dict[str, list[int]] = {}
    for index in range(len(lengths)):
        members.setdefault(groups[index] if groups is not None else "", []).append(index)
    batches: list[list[int]] = []
    for key in sorted(members):
        indices = members[key]
        rng.shuffle(indices)
        if not group_by_length:
            batches += _chunks(indices, batch_size)
            continue
        for mega in _chunks(indices, MEGA_BATCH * batch_size):
            batches += _chunks(sorted(mega, key=lambda i: -lengths[i]), batch_size)
    rng.shuffle(batches)
    return batches


def padding_share(lengths: Sequence[int], batches: Iterable[Sequence[int]]) -> float:
    """Share of padding among the tokens of right-padded ``batches``."""
    padded = real = 0
    for batch in batches:
        padded += max(lengths[i] for i in batch) * len(batch)
        real += sum(lengths[i] for i in batch)
    return (padded - real) / padded if padded else 0.0


@dataclass
class Schedule:
    """This process's share of every epoch's batches and the optimizer steps they make.

    All processes plan the same global batches; the last ``len % processes`` are left out so that
    every process gets as many, and process r takes batches r, r + P, r + 2P, ...
    """

    lengths: list[int]
    groups: list[str] | None
    config: TrainConfig
    processes: int = 1
    rank: int = 0

    def global_batches(self, epoch: int) -> list[list[int]]:
        return plan_batches(self.lengths, self.config.batch_size, self.config.seed, epoch, self.groups, self.config.group_by_length)

    def local_batches(self, epoch: int) -> list[list[int]]:
        batches = self.global_batches(epoch)
        batches = batches[: len(batches) - len(batches) % self.processes]
        return batches[self.rank :: self.processes]

    @cached_property
    def global_batch_count(self) -> int:
        # The same in every epoch: each group's samples split into the same number of chunks.
        return len(self.global_batches(0))

    @property
    def left_out_per_epoch(self) -> int:
        return self.global_batch_count % self.processes

    @property
    def batches_per_epoch(self) -> int:
        return self.global_batch_count // self.processes

    @property
    def steps_per_epoch(self) -> int:
        return math.ceil(self.batches_per_epoch / self.config.grad_accum)

    @property
    def total_steps(self) -> int:
        steps = self.steps_per_epoch * self.config.epochs if self.config.epochs is not None else math.inf
        return int(min(steps, self.config.max_steps if self.config.max_steps is not None else math.inf))

    @property
    def epochs(self) -> int:
        return math.ceil(self.total_steps / self.steps_per_epoch)


# ---------------------------------------------------------------------------------------------
# Losses


def target_token_losses(logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample: summed cross-entropy over target tokens, and their count (two [B] tensors).

    Position t predicts token t + 1; tokens labelled -100 (prompt, padding) count nowhere.
    """
    targets = F.pad(labels[:, 1:], (0, 1), value=-100)  # shift left; the last position predicts nothing
    per_token = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=-100, reduction="none")
    return per_token.view(targets.shape).sum(1), (targets != -100).sum(1)


def _routing_block(model: nn.Module, batch: dict[str, torch.Tensor]) -> contextlib.AbstractContextManager:
    if not hasattr(model, STATE_ATTRIBUTE):
        return contextlib.nullcontext()
    return routing(model, instruction_mask=batch["instruction_mask"], attention_mask=batch["attention_mask"], capability_labels=batch["capability_labels"])


@torch.no_grad()
def sample_losses(model: nn.Module, tokenizer, instances: Sequence[Instance], batch_size: int, max_length: int | None = None) -> list[float]:
    """Mean cross-entropy over each instance's target tokens under ``model``, in the order given.

    Batched (length-sorted, right-padded), no gradient, eval mode; a model with the adapter runs
    under its routing (instruction mask, capability labels from each instance's task).  LDA
    scores augmented samples with it.  An instance whose target ``max_length`` cuts away entirely
    scores NaN.
    """
    if batch_size < 1:
        raise ValueError(f"sample_losses batch_size must be positive, got {batch_size}")
    device = next(model.parameters()).device
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    encoded = []
    for instance in instances:
        example, _ = encode_examples(tokenizer, [instance], max_length)
        encoded.append(example[0] if example else None)
    kept = [i for i, example in enumerate(encoded) if example is not None]
    order = sorted(kept, key=lambda i: len(encoded[i]))
    losses = [math.nan] * len(instances)
    was_training = model.training
    model.eval()
    try:
        for indices in _chunks(order, batch_size):
            batch = {k: v.to(device) for k, v in collate([encoded[i] for i in indices], pad).items()}
            with _routing_block(model, batch):
                logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
            sums, counts = target_token_losses(logits, batch["labels"])
            for i, value in zip(indices, (sums / counts).tolist()):
                losses[i] = value
    finally:
        model.train(was_training)
    return losses


# ---------------------------------------------------------------------------------------------
# Stages and expert isolation


def _check_stage(stage: str, adapter: HierarchicalMoEConfig, instances: Sequence[Instance]) -> None:
    if stage not in STAGES:
        raise TrainConfigError(f"training stage must be one of {', '.join(STAGES)}, got {stage!r}")
    if not instances:
        raise TrainingError("no training instances were given")
    for instance in instances:
        try:
            capabilities_of(instance.task)
        except ValueError as exc:
            raise TrainingError(f"instance {instance.id!r} of dataset {instance.dataset!r}: {exc}") from None
    if stage != WARMING:
        return
    if not adapter.capability_experts:
        raise TrainingError(f"capability warming needs capability experts, but this adapter (routing={adapter.routing!r}) has none: train it with stage='multitask'")
    for instance in instances:
        if instance.task not in adapter.capability_experts:
            if instance.task not in CAPABILITIES:
                wanted = "capability sub-task instances (task judging, locating or associating)"
            else:
                wanted = f"instances of the adapter's capability experts ({', '.join(adapter.capability_experts)})"
            raise TrainingError(f"capability warming trains on {wanted}, but instance {instance.id!r} of dataset {instance.dataset!r} has task {instance.task!r}")


def _trainable_parameters(model: nn.Module, stage: str) -> dict[str, nn.Parameter]:
    """Adapter parameters that train in ``stage``; warming freezes the task routers (they do not run)."""
    params = adapter_parameters(model)
    if stage == WARMING:
        for name, param in params.items():
            if ".task_router." in name:
                param.requires_grad_(False)
    return {name: param for name, param in params.items() if param.requires_grad}


def _switched_off_rows(model: nn.Module, active: set[str]) -> list[tuple[nn.Parameter, slice]]:
    """(parameter, row slice) of every capability expert not in ``active``, in every wrapped layer.

    Layout of :class:`ucuie.adapter.HierarchicalMoELinear`: ``lora_down``/``lora_up`` rows hold
    the shared expert's r rows first, then Q*r rows per capability expert; ``token_router`` has Q
    rows (and bias entries) per capability expert.
    """
    rows = []
    for _, layer in adapter_layers(model):
        config = layer.config
        width, offset = config.sub_experts * config.rank, config.rank if config.shared_expert else 0
        for index, capability in enumerate(config.capability_experts):
            if capability in active:
                continue
            lora = slice(offset + index * width, offset + (index + 1) * width)
            router = slice(index * config.sub_experts, (index + 1) * config.sub_experts)
            rows += [(layer.lora_down, lora), (layer.lora_up, lora), (layer.token_router.weight, router), (layer.token_router.bias, router)]
    return rows


@contextlib.contextmanager
def _keep_rows(optimizer: torch.optim.Optimizer, rows: list[tuple[nn.Parameter, slice]]) -> Iterator[None]:
    """Restore the given parameter rows, and their optimizer moments, after the block (the step).

    A switched-off expert has zero gradient, but AdamW would still move it by momentum from
    earlier steps and by weight decay; restoring makes it take no part in the step at all.
    """
    saved = []
    for param, part in rows:
        state = optimizer.state.get(param, {})
        moments = {key: value[part].clone() for key, value in state.items() if torch.is_tensor(value) and value.shape == param.shape}
        saved.append((param, part, param.detach()[part].clone(), moments))
    yield
    with torch.no_grad():
        for param, part, value, moments in saved:
            param[part] = value
            # Moments that this step created (the first one) are zero on zero-gradient rows already.
            for key, moment in moments.items():
                optimizer.state[param][key][part] = moment


# ---------------------------------------------------------------------------------------------
# Fingerprint, checkpoint and log


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _backbone_fingerprint(folder: Path) -> dict[str, Any]:
    """The backbone's config.json and its weight files' names and sizes (hashing 13 GB is too slow)."""
    weights = sorted(p for p in folder.iterdir() if p.suffix in (".safetensors", ".bin"))
    return {"config": hashlib.sha256((folder / "config.json").read_bytes()).hexdigest(), "weights": {p.name: p.stat().st_size for p in weights}}


def _data_fingerprint(instances: Sequence[Instance]) -> str:
    digest = hashlib.sha256()
    for instance in instances:
        digest.update(json.dumps(instance.to_json(), sort_keys=True, ensure_ascii=False).encode() + b"\n")
    return digest.hexdigest()


def _fingerprint(
    stage: str, config: TrainConfig, adapter: HierarchicalMoEConfig, init_adapter: Path | None,
    backbone: Path, dtype: str, instances: Sequence[Instance], processes: int,
) -> dict[str, Any]:
    """Everything that determines the trained weights; a checkpoint resumes only when it matches."""
    return {
        "stage": stage,
        "train": {k: v for k, v in config.to_dict().items() if k not in RESUME_NEUTRAL},
        "adapter": adapter.to_dict(),
        "init_adapter": _sha256_file(init_adapter / WEIGHTS_FILE) if init_adapter is not None else None,
        "backbone": _backbone_fingerprint(backbone),
        "dtype": dtype,
        "data": _data_fingerprint(instances),
        "processes": processes,
    }


def _fingerprint_hash(fingerprint: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fingerprint, sort_keys=True).encode()).hexdigest()[:16]


def _differences(saved: dict[str, Any], current: dict[str, Any]) -> list[str]:
    names = []
    for key in sorted(set(saved) | set(current)):
        old, new = saved.get(key), current.get(key)
        if old == new:
            continue
        if isinstance(old, dict) and isinstance(new, dict) and key in ("train", "adapter"):
            names += [f"{key}.{sub}: {old.get(sub)!r} -> {new.get(sub)!r}" for sub in sorted(set(old) | set(new)) if old.get(sub) != new.get(sub)]
        else:
            names.append(key)
    return names


@dataclass
class Progress:
    """Where training stands: optimizer steps done, position in the epoch, global counters."""

    step: int = 0
    epoch: int = 0
    batch: int = 0  # micro-batches of ``epoch`` this process has consumed
    tokens: int = 0  # real (non-pad) tokens, all processes
    target_tokens: int = 0
    batch_tokens: int = 0  # real + padding
    seconds: float = 0.0
    resumed_from: int | None = None


def _checkpoint_folder(out: Path) -> Path | None:
    """The committed checkpoint; ``checkpoint.old`` if a kill fell between the two renames."""
    for folder in (out / CHECKPOINT, out / f"{CHECKPOINT}.old"):
        if (folder / "state.json").is_file():
            return folder
    return None


def _rng_state() -> dict[str, Any]:
    state = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    random.setstate(state["python"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _write_checkpoint(out: Path, accelerator, model: nn.Module, optimizer, scheduler, progress: Progress, fingerprint: dict[str, Any]) -> None:
    """Write ``<out>/checkpoint/`` atomically: build ``checkpoint.tmp``, then rename it into place."""
    tmp, final, old = out / f"{CHECKPOINT}.tmp", out / CHECKPOINT, out / f"{CHECKPOINT}.old"
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        save_adapter(model, tmp / ADAPTER)
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    accelerator.wait_for_everyone()
    torch.save(_rng_state(), tmp / f"rng-{accelerator.process_index}.pt")
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        state = {**asdict(progress), "config_hash": _fingerprint_hash(fingerprint), "fingerprint": fingerprint}
        (tmp / "state.json").write_text(json.dumps(state, indent=1) + "\n")
        # Never without a complete checkpoint: a kill between the renames leaves checkpoint.old.
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)  # a leftover of a kill during the last clean-up
            final.rename(old)
        tmp.rename(final)
        shutil.rmtree(old, ignore_errors=True)
    accelerator.wait_for_everyone()


def _read_checkpoint(folder: Path, fingerprint: dict[str, Any]) -> dict[str, Any]:
    """The checkpoint's state; an error naming the folder when its config differs from this run's."""
    state = json.loads((folder / "state.json").read_text())
    if state.get("fingerprint") != fingerprint:
        differences = _differences(state.get("fingerprint") or {}, fingerprint)
        raise TrainingError(
            f"checkpoint {folder} was written by a different training run (differs in: {'; '.join(differences)}); "
            "delete the folder, or pass restart=True to start over"
        )
    return state


def _format(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return format(value, ".6g")
    return str(value)


def _trim_log(path: Path, last_step: int) -> None:
    """Keep the rows of steps up to ``last_step`` (those after the checkpoint will be redone)."""
    if not path.is_file():
        return
    kept: dict[int, dict[str, str]] = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            # A row torn by a kill lacks its last columns; a step is kept once.
            if (row.get("step") or "").isdigit() and row.get(LOG_COLUMNS[-1]) not in (None, "") and int(row["step"]) <= last_step:
                kept[int(row["step"])] = row
    rows = [kept[step] for step in sorted(kept)]
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    tmp.replace(path)


def _append_log(path: Path, row: dict[str, Any]) -> None:
    new = not path.is_file()
    with path.open("a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=LOG_COLUMNS)
        if new:
            writer.writeheader()
        writer.writerow({column: _format(row.get(column)) for column in LOG_COLUMNS})


# ---------------------------------------------------------------------------------------------
# The loop


class _Meter:
    """Sums of one log interval's micro-batch values on this process; reduced over processes when read."""

    NAMES = ("loss", "task_loss", "bce", "entropy", *(f"task_gate/{c}" for c in CAPABILITIES))

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.sums = torch.zeros(len(self.NAMES), dtype=torch.float64)
        self.counts = torch.zeros(len(self.NAMES), dtype=torch.float64)

    def add(self, values: dict[str, float]) -> None:
        for index, name in enumerate(self.NAMES):
            if name in values:
                self.sums[index] += values[name]
                self.counts[index] += 1

    def means(self, accelerator) -> dict[str, float | None]:
        totals = accelerator.reduce(torch.stack([self.sums, self.counts]).to(accelerator.device), "sum").cpu()
        self.reset()
        return {name: (float(totals[0, i] / totals[1, i]) if totals[1, i] > 0 else None) for i, name in enumerate(self.NAMES)}


def _global_counts(accelerator, counts: torch.Tensor) -> list[int]:
    return [int(v) for v in accelerator.reduce(counts.to(accelerator.device), "sum").cpu()]


def _enable_gradient_checkpointing(model: nn.Module) -> None:
    kwargs = {"use_reentrant": False}  # the routing records carry gradients only without reentrancy
    if hasattr(model, "activation_checkpointing_enable"):
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def _prepare_output(out: Path, checkpoint: Path | None, restart: bool) -> None:
    """Clear what a fresh start must not inherit: an old checkpoint (restart), log, final outputs."""
    if restart:
        for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
            shutil.rmtree(out / name, ignore_errors=True)
    shutil.rmtree(out / f"{CHECKPOINT}.tmp", ignore_errors=True)
    if checkpoint is None or restart:
        (out / LOG).unlink(missing_ok=True)
    (out / SUMMARY).unlink(missing_ok=True)


def train(
    backbone: str | Path,
    instances: Sequence[Instance | str | Path],
    out: str | Path,
    *,
    stage: str = MULTITASK,
    adapter_config: HierarchicalMoEConfig | None = None,
    init_adapter: str | Path | None = None,
    config: TrainConfig | None = None,
    dtype: str = "float32",
    restart: bool = False,
    stop_after_steps: int | None = None,
) -> dict[str, Any]:
    """Train an adapter on ``instances``; write ``<out>/adapter/``, ``log.csv`` and ``summary.json``.

    Give ``adapter_config`` (attach a fresh adapter, initialised from the seed), ``init_adapter``
    (a folder written by :func:`ucuie.adapter.save_adapter`, e.g. a warmed adapter or the previous
    LDA round), or both (the config's adapter initialised from the saved weights, which may differ
    in task routers only: see :func:`ucuie.adapter.load_adapter`).  ``dtype`` is the backbone's weight dtype (the adapter
    gets the same).  If ``<out>/checkpoint/`` holds a checkpoint of the same run, training resumes
    from it; one of a different run is an error, unless ``restart`` discards it.
    ``stop_after_steps`` raises :class:`TrainingInterrupted` after that many optimizer steps
    (simulating a kill).  Returns the summary (also written to ``summary.json``, last).
    """
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    from ucuie.backbone import load_backbone

    config = config or TrainConfig()
    backbone, out = Path(backbone), Path(out)
    init_adapter, adapter_config = _adapter_source(adapter_config, init_adapter)
    accelerator = Accelerator(mixed_precision="bf16" if config.bf16 else "no")
    instances = load_instances(instances)
    _check_stage(stage, adapter_config, instances)
    model, tokenizer = load_backbone(backbone, dtype)
    fingerprint = _fingerprint(stage, config, adapter_config, init_adapter, backbone, dtype, instances, accelerator.num_processes)

    checkpoint = None if restart else _checkpoint_folder(out)
    state = _read_checkpoint(checkpoint, fingerprint) if checkpoint is not None else None
    if accelerator.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        _prepare_output(out, checkpoint, restart)
        if state is not None:
            _trim_log(out / LOG, state["step"])
    accelerator.wait_for_everyone()

    set_seed(config.seed)
    if state is not None:
        load_adapter(model, checkpoint / ADAPTER)
    elif init_adapter is not None:
        load_adapter(model, init_adapter, adapter_config)
    else:
        attach_adapter(model, adapter_config)
    trainable = _trainable_parameters(model, stage)
    if config.gradient_checkpointing:
        _enable_gradient_checkpointing(model)

    examples, encode_stats = encode_examples(tokenizer, instances, config.max_length)
    if not examples:
        raise TrainingError(f"every instance lost its whole target to max_length={config.max_length}: raise training key 'max_length'")
    schedule = Schedule([len(e) for e in examples], [e.task for e in examples] if stage == WARMING else None, config, accelerator.num_processes, accelerator.process_index)
    if schedule.batches_per_epoch == 0:
        raise TrainingError(f"{len(examples)} examples make fewer batches than the {accelerator.num_processes} processes")

    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    loop = _start_loop(accelerator, model, trainable, examples, pad, schedule, config, stage, out, fingerprint)
    if state is not None:
        _restore(loop, checkpoint, state)
    if accelerator.is_main_process:
        _log_start(stage, config, schedule, encode_stats, trainable, accelerator.num_processes, examples, loop.progress, checkpoint)
    loop.run(schedule, stop_after_steps)

    summary = loop.summary(encode_stats, schedule)
    if accelerator.is_main_process:
        _save_final(out, loop.inner, summary)
    accelerator.wait_for_everyone()
    return summary


def _adapter_source(adapter_config: HierarchicalMoEConfig | None, init_adapter: str | Path | None) -> tuple[Path | None, HierarchicalMoEConfig]:
    """``(init_adapter folder or None, adapter config)``; without ``adapter_config`` the saved adapter's config."""
    if adapter_config is None and init_adapter is None:
        raise TrainConfigError("give adapter_config (a fresh adapter), init_adapter (a saved adapter folder), or both")
    if init_adapter is None:
        return None, adapter_config
    init_adapter = Path(init_adapter)
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        if not (init_adapter / name).is_file():
            raise TrainingError(f"init_adapter folder {init_adapter} has no {name}: point at a folder written by save_adapter")
    return init_adapter, adapter_config or HierarchicalMoEConfig.from_dict(json.loads((init_adapter / CONFIG_FILE).read_text()))


def _start_loop(
    accelerator, model: nn.Module, trainable: dict[str, nn.Parameter], examples: list[Example], pad: int,
    schedule: Schedule, config: TrainConfig, stage: str, out: Path, fingerprint: dict[str, Any],
) -> _Loop:
    """AdamW over the trainable adapter parameters, the linear schedule, and the prepared model."""
    from transformers import get_linear_schedule_with_warmup

    total_steps = schedule.total_steps
    optimizer = torch.optim.AdamW(list(trainable.values()), lr=config.lr, weight_decay=config.weight_decay)
    model.train()
    model, optimizer = accelerator.prepare(model, optimizer)
    # Not prepared: a prepared scheduler steps once per process at every call; this one steps
    # exactly once per optimizer step.
    scheduler = get_linear_schedule_with_warmup(optimizer.optimizer, round(config.warmup_ratio * total_steps), total_steps)
    return _Loop(accelerator=accelerator, model=model, inner=accelerator.unwrap_model(model), optimizer=optimizer, scheduler=scheduler,
                 trainable=trainable, examples=examples, pad=pad, config=config, stage=stage, out=out, fingerprint=fingerprint, total_steps=total_steps)


def _restore(loop: _Loop, checkpoint: Path, state: dict[str, Any]) -> None:
    """Optimizer, scheduler, this process's RNG states and the position from a checkpoint."""
    loop.optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", map_location="cpu", weights_only=True))
    loop.scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", map_location="cpu", weights_only=True))
    _set_rng_state(torch.load(checkpoint / f"rng-{loop.accelerator.process_index}.pt", map_location="cpu", weights_only=True))
    loop.progress = Progress(**{k: state[k] for k in asdict(Progress()) if k != "resumed_from"}, resumed_from=state["step"])


def _save_final(out: Path, model: nn.Module, summary: dict[str, Any]) -> None:
    """The adapter (renamed into place), then summary.json (its presence marks a finished run)."""
    tmp = out / f"{ADAPTER}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    save_adapter(model, tmp)
    shutil.rmtree(out / ADAPTER, ignore_errors=True)
    tmp.rename(out / ADAPTER)
    write_json(out / SUMMARY, summary)
    for name in (CHECKPOINT, f"{CHECKPOINT}.old"):
        shutil.rmtree(out / name, ignore_errors=True)
    logger.info("finished: %d steps, %d tokens, %.1f s; adapter in %s", summary["steps"], summary["tokens"], summary["seconds"], out / ADAPTER)


def _log_start(stage, config, schedule, stats, trainable, processes, examples, progress, checkpoint) -> None:
    logger.info("stage %s: %d instances -> %d examples; %d per process and micro-batch, %d micro-batches per step, %d processes (%d samples per step)",
                stage, stats.instances, len(examples), config.batch_size, config.grad_accum, processes, config.batch_size * config.grad_accum * processes)
    if stats.truncated:
        logger.warning("truncated %d of %d instances to max_length=%s tokens", stats.truncated, stats.instances, config.max_length)
    if stats.dropped:
        logger.warning("skipped %d instances whose whole target lies beyond max_length=%s (e.g. %s)", len(stats.dropped), config.max_length, ", ".join(stats.dropped[:5]))
    if schedule.left_out_per_epoch:
        logger.warning("%d batches per epoch are left out so that every one of %d processes gets as many", schedule.left_out_per_epoch, processes)
    logger.info("%d batches and %d optimizer steps per epoch; %d steps in all; %d trainable parameters",
                schedule.batches_per_epoch, schedule.steps_per_epoch, schedule.total_steps, sum(p.numel() for p in trainable.values()))
    if checkpoint is not None:
        logger.info("resuming from %s at step %d (epoch %d, micro-batch %d)", checkpoint, progress.step, progress.epoch, progress.batch)


@dataclass
class _Loop:
    """The optimizer-step loop and what one training run needs between steps."""

    accelerator: Any
    model: nn.Module  # as prepared (DDP-wrapped under several processes)
    inner: nn.Module  # unwrapped: the adapter's routing state lives here
    optimizer: Any  # accelerate's AcceleratedOptimizer around torch.optim.AdamW
    scheduler: Any
    trainable: dict[str, nn.Parameter]
    config: TrainConfig
    stage: str
    out: Path
    fingerprint: dict[str, Any]
    total_steps: int
    examples: list[Example]
    pad: int
    progress: Progress = field(default_factory=Progress)
    meter: _Meter = field(default_factory=_Meter)
    #: real, target and batch (real + padding) tokens since the last reduction over processes
    counts: torch.Tensor = field(default_factory=lambda: torch.zeros(3, dtype=torch.int64))
    last_row: dict[str, Any] = field(default_factory=dict)
    step_lr: float = 0.0

    @property
    def isolate(self) -> bool:
        return self.stage == WARMING and self.config.isolate_experts

    def run(self, schedule: Schedule, stop_after_steps: int | None) -> None:
        progress, accelerator = self.progress, self.accelerator
        started = time.monotonic() - progress.seconds
        bar = tqdm(total=self.total_steps, initial=progress.step, desc=f"training ({self.stage})", unit="step", disable=not accelerator.is_local_main_process)
        for epoch in range(progress.epoch, schedule.epochs):
            batches = schedule.local_batches(epoch)
            start = progress.batch if epoch == progress.epoch else 0
            for first in range(start, len(batches), self.config.grad_accum):
                if progress.step >= self.total_steps:
                    break
                group = batches[first : first + self.config.grad_accum]
                self.optimizer_step(group)
                progress.step, progress.epoch, progress.batch = progress.step + 1, epoch, first + len(group)
                if progress.batch == len(batches):
                    progress.epoch, progress.batch = epoch + 1, 0
                progress.seconds = time.monotonic() - started
                bar.update(1)
                self.after_step(epoch + (first + len(group)) / len(batches), bar)
                if stop_after_steps is not None and progress.step >= stop_after_steps and progress.step < self.total_steps:
                    bar.close()
                    raise TrainingInterrupted(f"stopped after step {progress.step} (stop_after_steps={stop_after_steps})")
        bar.close()

    def optimizer_step(self, group: list[list[int]]) -> None:
        """Forward and backward every micro-batch of ``group``, then one optimizer step."""
        accelerator, config = self.accelerator, self.config
        active = torch.zeros(len(CAPABILITIES))
        for position, indices in enumerate(group):
            examples = [self.examples[i] for i in indices]
            batch = {k: v.to(accelerator.device) for k, v in collate(examples, self.pad).items()}
            last = position == len(group) - 1
            # What accelerator.accumulate does, with explicit group bounds: gradients are all-reduced
            # only in the last micro-batch's backward, and an epoch's last, shorter group is exact.
            with contextlib.ExitStack() as stack:
                if not last:
                    stack.enter_context(accelerator.no_sync(self.model))
                stack.enter_context(_routing_block(self.inner, batch))
                if self.stage == WARMING:
                    capability = examples[0].task  # warming batches are homogeneous in sub-task
                    stack.enter_context(force_capabilities(self.inner, [capability]))
                    active[CAPABILITIES.index(capability)] = 1
                logits = self.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
                sums, counts = target_token_losses(logits, batch["labels"])
                task_loss = sums.sum() / counts.sum()
                aux = collect_aux_losses(self.inner)
                loss = task_loss + config.gamma * aux.bce.to(task_loss) + config.beta * aux.entropy.to(task_loss)
                # Backward inside the routing block: gradient checkpointing re-runs the layers.
                accelerator.backward(loss / len(group))
            self.meter.add({"loss": float(loss.detach()), "task_loss": float(task_loss.detach()), **aux.as_floats()})
            mask = batch["attention_mask"]
            self.counts += torch.tensor([int(mask.sum()), int(counts.sum()), mask.numel()])
        if config.max_grad_norm is not None:
            accelerator.clip_grad_norm_(list(self.trainable.values()), config.max_grad_norm)
        keep = contextlib.nullcontext()
        if self.isolate:
            # Capabilities active in this step on any process (their gradients are all-reduced).
            active = accelerator.reduce(active.to(accelerator.device), "sum").cpu()
            keep = _keep_rows(self.optimizer.optimizer, _switched_off_rows(self.inner, {c for c, on in zip(CAPABILITIES, active) if on > 0}))
        self.step_lr = self.optimizer.param_groups[0]["lr"]
        with keep:
            self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)

    def reduce_counts(self) -> None:
        tokens, targets, batch_tokens = _global_counts(self.accelerator, self.counts)
        self.counts.zero_()
        self.progress.tokens += tokens
        self.progress.target_tokens += targets
        self.progress.batch_tokens += batch_tokens

    def after_step(self, epoch: float, bar) -> None:
        progress, config = self.progress, self.config
        final = progress.step == self.total_steps
        if progress.step % config.log_every == 0 or final:
            self.reduce_counts()
            row = {"step": progress.step, "epoch": round(epoch, 4), "lr": self.step_lr, **self.meter.means(self.accelerator), "tokens": progress.tokens, "seconds": round(progress.seconds, 1)}
            self.last_row = row
            if self.accelerator.is_main_process:
                _append_log(self.out / LOG, row)
                logger.info("step %d/%d epoch %.2f lr %.3g loss %.4f task %.4f bce %.4f entropy %.4f", progress.step, self.total_steps,
                            row["epoch"], row["lr"], row["loss"], row["task_loss"], row["bce"], row["entropy"])
                bar.set_postfix(loss=f"{row['loss']:.4f}")
        if config.checkpoint_every is not None and progress.step % config.checkpoint_every == 0 and not final:
            self.reduce_counts()
            _write_checkpoint(self.out, self.accelerator, self.inner, self.optimizer, self.scheduler, progress, self.fingerprint)
            if self.accelerator.is_main_process:
                logger.info("checkpoint at step %d in %s", progress.step, self.out / CHECKPOINT)

    def summary(self, stats: EncodeStats, schedule: Schedule) -> dict[str, Any]:
        progress, config = self.progress, self.config
        return {
            "stage": self.stage,
            "steps": progress.step,
            "epochs": round(progress.step / schedule.steps_per_epoch, 4),
            "tokens": progress.tokens,
            "target_tokens": progress.target_tokens,
            "padding_share": round(1 - progress.tokens / progress.batch_tokens, 4) if progress.batch_tokens else 0.0,
            "seconds": round(progress.seconds, 1),
            "resumed_from_step": progress.resumed_from,
            "final": {k: v for k, v in self.last_row.items() if k not in ("step", "epoch", "tokens", "seconds")},
            "trainable_parameters": sum(p.numel() for p in self.trainable.values()),
            "instances": stats.instances,
            "truncated": stats.truncated,
            "skipped": len(stats.dropped),
            "processes": self.accelerator.num_processes,
            "samples_per_step": config.batch_size * config.grad_accum * self.accelerator.num_processes,
            "config_hash": _fingerprint_hash(self.fingerprint),
            "config": config.to_dict(),
            "adapter": self.fingerprint["adapter"],
        }


# ---------------------------------------------------------------------------------------------
# Command line: ``ucuie train`` (also ``accelerate launch -m ucuie.cli train ...``)


def _read_mapping(path: str | None) -> dict[str, Any]:
    import yaml

    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text())
    if not isinstance(data, dict):
        raise TrainConfigError(f"{path} must hold a mapping of config keys")
    return data


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--backbone", required=True, help="materialised backbone folder (ucuie backbone)")
    parser.add_argument("--instances", nargs="+", required=True, help="instance JSONL files")
    parser.add_argument("--out", required=True, help="output folder (adapter/, log.csv, summary.json, checkpoint/)")
    parser.add_argument("--stage", choices=STAGES, default=MULTITASK)
    parser.add_argument("--adapter-config", help="YAML/JSON mapping of HierarchicalMoEConfig keys (default: the paper's adapter, or the --init-adapter's own)")
    parser.add_argument("--init-adapter", help="start from this saved adapter folder instead of a fresh adapter")
    parser.add_argument("--train-config", help="YAML/JSON mapping of TrainConfig keys")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override TrainConfig keys (values parsed as YAML)")
    parser.add_argument("--dtype", default="float32", help="backbone weight dtype")
    parser.add_argument("--restart", action="store_true", help="discard an existing checkpoint instead of resuming")


def run(args: argparse.Namespace) -> int:
    import yaml

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        settings = _read_mapping(args.train_config)
        for item in args.set:
            key, sep, value = item.partition("=")
            if not sep:
                raise TrainConfigError(f"--set expects KEY=VALUE, got {item!r}")
            settings[key] = yaml.safe_load(value)
        # With --init-adapter alone the saved adapter's config applies; with both, as train(...) does.
        adapter = None if args.init_adapter and not args.adapter_config else HierarchicalMoEConfig.from_dict(_read_mapping(args.adapter_config))
        train(args.backbone, args.instances, args.out, stage=args.stage, adapter_config=adapter, init_adapter=args.init_adapter,
              config=TrainConfig.from_dict(settings), dtype=args.dtype, restart=args.restart)
    except (TrainConfigError, TrainingError, ValueError) as exc:
        print(f"ucuie train: {exc}")
        return 1
    return 0
