"""How per-batch routing inputs reach every wrapped layer without changing the model's forward.

An :class:`AdapterState` is created when the adapter is attached and shared (by reference) by
every wrapped linear of that model.  :func:`routing` puts a :class:`RoutingContext` on it for
the duration of a ``with`` block; the layers read the instruction mask (Eq. 3), the
capability labels (hard routing, L_bce targets of Eq. 4) and the attention mask (which tokens
count in Eq. 8) from it, and write back what the auxiliary losses need.

Under gradient checkpointing the layers run again during ``backward()``, so call
``backward()`` inside the ``with`` block.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from ucuie.adapter.config import HierarchicalMoEConfig
from ucuie.tasks import CAPABILITIES, capability_labels

STATE_ATTRIBUTE = "hierarchical_moe_state"


class RoutingError(RuntimeError):
    """The routing inputs a wrapped layer needs are missing or malformed; the message says which."""


@dataclass
class RoutingContext:
    """Routing inputs of one batch, and what the wrapped layers record while it is active.

    ``instruction_mask`` [B, T]: 1 on task-instruction tokens (the task router averages the
    layer input over them, Eq. 3; left padding must be 0).  ``attention_mask`` [B, T]: 1 on
    real tokens; only they count in L_entropy (Eq. 8) and in routing records (all tokens
    count when it is None).  ``capability_labels`` [B, 3]: ``[g_J, g_L, g_A]`` per sample in
    :data:`ucuie.tasks.CAPABILITIES` order (gates of hard routing, targets of L_bce).
    """

    instruction_mask: torch.Tensor | None = None
    attention_mask: torch.Tensor | None = None
    capability_labels: torch.Tensor | None = None
    #: Eq. 3 pooling weights: instruction mask / instruction-token count per sample.
    instruction_weights: torch.Tensor | None = None
    #: Per wrapped layer (by module name): task-router logits [B, G] of the last full forward.
    task_router_logits: dict[str, torch.Tensor] = field(default_factory=dict)
    #: Per wrapped layer: task gates [B, 1, G] computed at prefill, reused by decode steps.
    task_gates: dict[str, torch.Tensor] = field(default_factory=dict)
    #: Per wrapped layer: p(E_q^i) of Eq. 8, the mean sub-expert weight over counted tokens [G, Q].
    sub_expert_load: dict[str, torch.Tensor] = field(default_factory=dict)
    _casts: dict[tuple, torch.Tensor] = field(default_factory=dict, repr=False)

    def cast(self, name: str, like: torch.Tensor) -> torch.Tensor | None:
        """Input ``name`` (e.g. ``"instruction_weights"``) in the dtype and on the device of ``like``.

        Cached, so that the wrapped layers of one forward convert each input once.
        """
        value = getattr(self, name)
        if value is None:
            return None
        key = (name, like.dtype, like.device)
        if key not in self._casts:
            self._casts[key] = value.to(dtype=like.dtype, device=like.device)
        return self._casts[key]


@dataclass
class AdapterState:
    """Model-level adapter state shared by all wrapped layers of one model."""

    config: HierarchicalMoEConfig
    context: RoutingContext | None = None
    #: Capability gates fixed by :func:`ucuie.adapter.analysis.force_capabilities`, shape [G].
    forced_gates: torch.Tensor | None = None
    #: Active :class:`ucuie.adapter.analysis.RoutingRecord`, if any.
    recorder: object | None = None
    #: True while the model runs a decode step (its KV cache already holds the prompt).
    decoding: bool = False


def adapter_state(model: nn.Module) -> AdapterState:
    """The :class:`AdapterState` of a model with an attached adapter."""
    state = getattr(model, STATE_ATTRIBUTE, None)
    if state is None:
        raise RoutingError(f"{type(model).__name__} has no hierarchical MoE adapter: call attach_adapter(model, config) or load_adapter(model, folder) first")
    return state


def capability_label_tensor(tasks: Sequence[str]) -> torch.Tensor:
    """Hard routing labels [B, 3] for a batch of task names (e.g. ``["ner", "re"]``)."""
    return torch.tensor([capability_labels(task) for task in tasks], dtype=torch.float32)


def _check_mask(name: str, mask: torch.Tensor | None, batch: int | None) -> None:
    if mask is None:
        return
    if mask.dim() != 2:
        raise RoutingError(f"routing {name} must have shape [batch, tokens], got {tuple(mask.shape)}")
    if batch is not None and mask.shape[0] != batch:
        raise RoutingError(f"routing {name} has batch size {mask.shape[0]} but another routing input has {batch}")


@contextmanager
def routing(
    model: nn.Module,
    instruction_mask: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    capability_labels: torch.Tensor | None = None,
) -> Iterator[RoutingContext]:
    """Make one batch's routing inputs visible to every wrapped layer of ``model``.

    Soft routing needs ``instruction_mask``; hard routing and L_bce need
    ``capability_labels``; L_entropy counts only tokens where ``attention_mask`` is 1.  Run the
    forward pass (and ``backward()``, if gradient checkpointing is on) and
    :func:`ucuie.adapter.losses.collect_aux_losses` inside the block.  For ``generate()``,
    the task gates computed at prefill are reused at every decode step.
    """
    state = adapter_state(model)
    batch = None
    for name, tensor in (("instruction_mask", instruction_mask), ("attention_mask", attention_mask)):
        _check_mask(name, tensor, batch)
        batch = tensor.shape[0] if tensor is not None else batch
    if instruction_mask is not None and attention_mask is not None and instruction_mask.shape != attention_mask.shape:
        raise RoutingError(f"routing instruction_mask {tuple(instruction_mask.shape)} and attention_mask {tuple(attention_mask.shape)} must have the same shape")
    weights = None
    if instruction_mask is not None:
        counts = instruction_mask.sum(dim=1)
        if bool((counts == 0).any()):
            row = int((counts == 0).nonzero()[0])
            raise RoutingError(f"routing instruction_mask row {row} marks no instruction token; the task router (Eq. 3) needs at least one")
        # float64 (on the CPU, where every backend has it) so that casting to the layer's dtype
        # rounds 1/count once, like a plain mean.
        weights = instruction_mask.cpu().double() / counts[:, None].cpu().double()
    if capability_labels is not None:
        if capability_labels.dim() != 2 or capability_labels.shape[1] != len(CAPABILITIES):
            raise RoutingError(f"routing capability_labels must have shape [batch, {len(CAPABILITIES)}] ({', '.join(CAPABILITIES)}), got {tuple(capability_labels.shape)}")
        if batch is not None and capability_labels.shape[0] != batch:
            raise RoutingError(f"routing capability_labels has batch size {capability_labels.shape[0]} but the masks have {batch}")
    previous = state.context
    state.context = RoutingContext(
        instruction_mask=instruction_mask,
        attention_mask=attention_mask,
        capability_labels=capability_labels,
        instruction_weights=weights,
    )
    try:
        yield state.context
    finally:
        state.context = previous
