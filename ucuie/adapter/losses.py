"""The auxiliary routing losses L_bce (Eq. 4) and L_entropy (Eq. 8), handed to the training loop.

The wrapped layers record what the losses need in the active routing context during the
forward pass; :func:`collect_aux_losses` turns the records into the two losses, each averaged
over the wrapped modules (the project's reading; the paper does not say how layers combine).
Within a module, L_bce sums over capabilities and averages over the samples of the batch, and
L_entropy sums ``sum_q p_q log p_q`` over capabilities with p_q the mean sub-expert weight over
the batch's real tokens.  The training objective is Eq. 10::

    loss = task_loss + gamma * aux.bce + beta * aux.entropy      # gamma = beta = 0.1
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ucuie.adapter.context import RoutingError, adapter_state
from ucuie.adapter.model import adapter_parameters
from ucuie.tasks import CAPABILITIES


@dataclass
class AuxLosses:
    """L_bce and L_entropy (0-dim tensors with gradients) and the mean task gates, for logging."""

    bce: torch.Tensor
    entropy: torch.Tensor
    #: Mean g'_i over the batch and the wrapped modules, per capability (soft routing only).
    task_gates: dict[str, float]

    def as_floats(self) -> dict[str, float]:
        """Plain floats for a log line: ``bce``, ``entropy`` and ``task_gate/<capability>``."""
        values = {"bce": float(self.bce.detach()), "entropy": float(self.entropy.detach())}
        values.update({f"task_gate/{capability}": gate for capability, gate in self.task_gates.items()})
        return values


def collect_aux_losses(model: nn.Module) -> AuxLosses:
    """The auxiliary losses of the last forward pass; call inside its ``routing(...)`` block.

    L_bce is zero when no capability labels were given or no task router ran (hard routing,
    forced gates); L_entropy is zero when no token router ran.
    """
    state = adapter_state(model)
    context = state.context
    if context is None:
        raise RoutingError("collect_aux_losses must be called inside `with routing(model, ...)`, after the forward pass")
    capabilities = state.config.capability_experts
    logits = list(context.task_router_logits.values())
    loads = list(context.sub_expert_load.values())
    if torch.is_grad_enabled() and any(not record.requires_grad for record in logits[:1] + loads[:1]):
        if any(param.requires_grad for param in adapter_parameters(model).values()):
            raise RoutingError("routing records carry no gradient: with gradient checkpointing, use use_reentrant=False (the transformers default)")
    zero = torch.zeros((), dtype=torch.float32)
    bce, entropy, task_gates = zero, zero, {}
    if logits:
        # All modules at once, [modules, B, G]: per module L_bce sums over capabilities and averages
        # over samples; every module sees the same batch, so the mean over modules is one mean.
        logits = torch.stack(logits)
        if context.capability_labels is not None:
            targets = context.capability_labels[:, [CAPABILITIES.index(c) for c in capabilities]].to(logits)
            bce = F.binary_cross_entropy_with_logits(logits, targets.expand_as(logits), reduction="none").sum(-1).mean()
        mean_gates = torch.sigmoid(logits.detach()).mean((0, 1))
        task_gates = {capability: float(gate) for capability, gate in zip(capabilities, mean_gates)}
    if loads:
        # Every module records loads of one shape: [G, Q], or the rows of the experts forced on.
        loads = torch.stack(loads)
        entropy = torch.special.xlogy(loads, loads).flatten(1).sum(-1).mean()
    return AuxLosses(bce=bce, entropy=entropy, task_gates=task_gates)
