"""Analysis hooks: switch capability experts on or off, and record low-level routing weights.

* :func:`force_capabilities` fixes the capability gates g'_i to a 0/1 mask, for Tables 5/6
  (evaluate with J, L, A, J+L, ... switched on) and for capability warming (stage 1: one
  capability expert plus the shared expert).  It works in training too: experts switched off
  contribute nothing, so their gradients are exactly zero, and they are left out of L_entropy.
* :func:`record_routing_weights` accumulates the mean sub-expert weight g_q^i per wrapped layer
  and capability over the tokens the model sees (Figure 6), and the capability gates g'_i each
  layer applied (what :func:`force_capabilities` switched on is visible there).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import torch
from torch import nn

from ucuie.adapter.context import adapter_state
from ucuie.adapter.model import AdapterError


@contextmanager
def force_capabilities(model: nn.Module, capabilities: Iterable[str]) -> Iterator[None]:
    """Within the block, capability experts in ``capabilities`` have gate 1, all others gate 0.

    The shared expert stays on; the task router and the capability labels are not used.
    """
    state = adapter_state(model)
    present = state.config.capability_experts
    if not present:
        raise AdapterError("this adapter has no capability experts to force (capability_experts is empty)")
    wanted = tuple(capabilities)
    for capability in wanted:
        if capability not in present:
            raise AdapterError(f"cannot force capability {capability!r}: the adapter's capability experts are {', '.join(present)}")
    previous = state.forced_gates
    state.forced_gates = torch.tensor([1.0 if capability in wanted else 0.0 for capability in present])
    try:
        yield
    finally:
        state.forced_gates = previous


class RoutingRecord:
    """Sums of the sub-expert weights g_q^i and token counts, per wrapped layer; and the
    capability gates g'_i each layer applied (forced, hard labels or the task router's), per sample."""

    def __init__(self, groups: tuple[str, ...]):
        self.groups = groups
        self.sums: dict[str, torch.Tensor] = {}
        self.tokens: dict[str, float] = {}
        self.gate_sums: dict[str, torch.Tensor] = {}
        self.gate_counts: dict[str, float] = {}

    def add_gates(self, layer: str, gates: torch.Tensor) -> None:
        """Add the capability gates of one forward: [G] (forced, one for the batch) or [B, 1, G]."""
        gates = gates.detach().double().cpu().reshape(-1, gates.shape[-1])
        self.gate_sums[layer] = self.gate_sums[layer] + gates.sum(0) if layer in self.gate_sums else gates.sum(0)
        self.gate_counts[layer] = self.gate_counts.get(layer, 0.0) + gates.shape[0]

    def mean_gates(self) -> dict[str, dict[str, float]]:
        """Mean capability gate g'_i per layer and capability: ``{layer: {capability: float}}``."""
        return {layer: {group: float(self.gate_sums[layer][i] / self.gate_counts[layer]) for i, group in enumerate(self.groups)} for layer in self.gate_sums}

    def add(self, layer: str, total: torch.Tensor, count: float) -> None:
        """Add the summed weights [G, Q] of ``count`` tokens seen by ``layer``."""
        total = total.double().cpu()
        self.sums[layer] = self.sums[layer] + total if layer in self.sums else total
        self.tokens[layer] = self.tokens.get(layer, 0.0) + count

    def mean_weights(self) -> dict[str, dict[str, list[float]]]:
        """Mean g_q^i per layer, then per capability (or flat group): ``{layer: {group: [Q floats]}}``."""
        return {
            layer: {group: (self.sums[layer][index] / self.tokens[layer]).tolist() for index, group in enumerate(self.groups)}
            for layer in self.sums
        }


@contextmanager
def record_routing_weights(model: nn.Module) -> Iterator[RoutingRecord]:
    """Record the mean low-level routing weight per sub-expert while the block runs (Figure 6).

    Tokens count where the routing context's attention mask is 1 (all tokens without one).
    """
    state = adapter_state(model)
    if not state.config.expert_groups:
        raise AdapterError("this adapter has no token-routed sub-experts to record (capability_experts is empty)")
    record = RoutingRecord(state.config.expert_groups)
    previous = state.recorder
    state.recorder = record
    try:
        yield record
    finally:
        state.recorder = previous
