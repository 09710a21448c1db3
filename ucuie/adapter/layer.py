"""The hierarchical MoE adapter layer (paper Section 3.4), wrapping one frozen ``nn.Linear``.

Per wrapped linear: a shared expert E^S (one LoRA, Eq. 2), capability experts E^J, E^L, E^A,
each a dense token-routed mixture of Q LoRA sub-experts (Eq. 5-7), and a task router that
weights the capability experts from the instruction tokens (Eq. 3).  Output (Eq. 9)::

    base(x) + E^S(x) + sum_i g'_i * sum_q g_q^i(x) * E_q^i(x)

Fused computation: the n = 1 + 3Q LoRAs are one stacked down-projection ``[d_in -> n*r]`` and
one stacked up-projection ``[n*r -> d_out]``; the per-token gate of each expert scales its r-wide
block between the two.  Since ``sum_k s_k * (x B_k) A_k = ((x B) * s) A`` for the stacked B and A,
this equals the sum over experts without materialising any expert's output.
:mod:`ucuie.adapter.reference` computes the same thing with a loop, for verification.

Naming: the paper writes B (d x r) for the down- and A (r x k) for the up-projection; here they
are ``lora_down`` (stored as B transposed, [n*r, d_in], the ``nn.Linear`` layout) and ``lora_up``
([n*r, d_out]).  ``lora_up`` starts at zero, so a new adapter leaves the model's output unchanged.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ucuie.adapter.config import HierarchicalMoEConfig
from ucuie.adapter.context import AdapterState, RoutingError
from ucuie.tasks import CAPABILITIES


class RoutedLinear(nn.Module):
    """Where an adapter layer's gates come from; shared by the fused layer and the reference loop.

    Subclasses hold the experts and implement :meth:`forward`.
    """

    def __init__(self, base_layer: nn.Linear, config: HierarchicalMoEConfig, state: AdapterState):
        super().__init__()
        base_layer.requires_grad_(False)
        self.base_layer = base_layer
        self.config = config
        self.adapter_state = state
        #: Dotted module name in the model; keys this layer's entries in the routing context.
        self.adapter_name = ""
        self.in_features = base_layer.in_features
        self.out_features = base_layer.out_features
        self.scaling = config.scaling
        self.label_columns = [CAPABILITIES.index(c) for c in config.capability_experts]

    def task_router_runs(self) -> bool:
        """Whether this forward computes task gates from instruction tokens (soft routing, Eq. 3).

        Not when gates are forced, nor at decode steps, which reuse the gates of the prefill.
        """
        state = self.adapter_state
        return self.config.has_task_router and state.forced_gates is None and not state.decoding

    def task_gates(self, x: torch.Tensor, task_router_logits: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
        """The capability gates g'_i: [B, 1, G] per sample, [G] when forced, None if ungated.

        Forcing (analysis, capability warming) beats routing; hard routing reads the labels;
        soft routing calls ``task_router_logits(instruction_weights)`` (the task router on the
        mean of x over each sample's instruction tokens, [B, G]) at a full forward and reuses
        its gates at decode steps.
        """
        gates = self._task_gates(x, task_router_logits)
        if gates is not None and self.adapter_state.recorder is not None:
            self.adapter_state.recorder.add_gates(self.adapter_name, gates)
        return gates

    def _task_gates(self, x: torch.Tensor, task_router_logits: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor | None:
        config, state = self.config, self.adapter_state
        if not config.capability_experts:
            return None
        if state.forced_gates is not None:
            return state.forced_gates.to(dtype=x.dtype, device=x.device)
        context = state.context
        if x.dim() != 3:
            raise RoutingError(f"adapter layer {self.adapter_name} routes per sample and needs input [batch, tokens, features], got {tuple(x.shape)}")
        if config.routing == "hard":
            if context is None or context.capability_labels is None:
                raise RoutingError(f"adapter layer {self.adapter_name} uses hard routing and needs capability labels: run the model inside `with routing(model, capability_labels=...)`")
            if context.capability_labels.shape[0] != x.shape[0]:
                raise RoutingError(f"routing capability_labels has batch size {context.capability_labels.shape[0]} but adapter layer {self.adapter_name} sees {x.shape[0]} samples")
            labels = context.capability_labels[:, self.label_columns]
            return labels.to(dtype=x.dtype, device=x.device)[:, None, :]
        if state.decoding:
            gates = context.task_gates.get(self.adapter_name) if context is not None else None
            if gates is None:
                raise RoutingError(f"adapter layer {self.adapter_name} runs a decode step but saw no prefill in this routing context: call generate() inside `with routing(model, instruction_mask=...)`")
            return gates
        weights = context.cast("instruction_weights", x) if context is not None else None
        if weights is None:
            raise RoutingError(f"adapter layer {self.adapter_name} uses soft routing and needs the instruction mask: run the model inside `with routing(model, instruction_mask=...)`")
        if weights.shape[0] != x.shape[0] or weights.shape[1] > x.shape[1]:
            raise RoutingError(f"routing instruction_mask has shape {tuple(weights.shape)} but adapter layer {self.adapter_name} sees a batch of {x.shape[0]} x {x.shape[1]} tokens")
        if weights.shape[1] < x.shape[1]:
            # Generation without a KV cache re-reads the grown sequence; new tokens are not instruction tokens.
            weights = F.pad(weights, (0, x.shape[1] - weights.shape[1]))
        logits = task_router_logits(weights)
        gates = torch.sigmoid(logits)[:, None, :]  # Eq. 3
        context.task_router_logits[self.adapter_name] = logits
        context.task_gates[self.adapter_name] = gates
        return gates

    def record_sub_expert_load(self, sub_expert_weights: torch.Tensor) -> None:
        """Record p(E_q^i) of Eq. 8 (mean g_q^i over counted tokens) for L_entropy and analysis.

        ``sub_expert_weights`` is [..., G, Q].  Counted tokens are those with attention mask 1
        (all tokens at decode steps, whose new tokens are real).
        """
        state = self.adapter_state
        context = state.context if not state.decoding else None
        if context is None and state.recorder is None:
            return
        groups, experts = sub_expert_weights.shape[-2:]
        weights = sub_expert_weights.reshape(-1, groups, experts)
        mask = context.cast("attention_mask", weights) if context is not None else None
        if mask is None:
            total, count = weights.sum(0), weights.shape[0]
        else:
            if sub_expert_weights.dim() != 4:
                raise RoutingError(f"routing attention_mask is [batch, tokens] but adapter layer {self.adapter_name} sees input of {sub_expert_weights.dim() - 1} dimensions")
            if mask.shape[1] < sub_expert_weights.shape[1]:
                # Generation without a KV cache: tokens past the prompt are generated, hence real.
                mask = F.pad(mask, (0, sub_expert_weights.shape[1] - mask.shape[1]), value=1)
            mask = mask.reshape(-1)
            total, count = (mask @ weights.flatten(1)).view(groups, experts), mask.sum()
        if context is not None:
            load = total / count
            if state.forced_gates is not None:
                # Capability experts switched off take no part in this step, nor in its L_entropy.
                load = load[state.forced_gates.to(load.device).bool()]
            context.sub_expert_load[self.adapter_name] = load
        if state.recorder is not None:
            state.recorder.add(self.adapter_name, total.detach(), float(count))


class HierarchicalMoELinear(RoutedLinear):
    """A frozen ``nn.Linear`` plus the fused hierarchical MoE adapter (Eq. 2-9).

    Parameters: ``lora_down`` [n*r, d_in] and ``lora_up`` [n*r, d_out] stack the n LoRAs rank
    by rank (row k of both is rank component k), the shared expert first (if any), then the
    sub-experts group by group; ``token_router`` is the G capability routers
    ``Linear(d_in, Q)`` stacked into ``Linear(d_in, G*Q)``; ``task_router`` is
    ``Linear(d_in, G)`` (soft routing only).
    """

    def __init__(self, base_layer: nn.Linear, config: HierarchicalMoEConfig, state: AdapterState):
        super().__init__(base_layer, config, state)
        factory = {"device": base_layer.weight.device, "dtype": base_layer.weight.dtype}
        lora_width, groups = config.num_loras * config.rank, len(config.expert_groups)
        self.lora_down = nn.Parameter(torch.empty(lora_width, self.in_features, **factory))
        self.lora_up = nn.Parameter(torch.zeros(lora_width, self.out_features, **factory))
        # The initialisation of one nn.Linear(d_in, r) per LoRA, as in PEFT.
        nn.init.kaiming_uniform_(self.lora_down, a=math.sqrt(5))
        self.token_router = nn.Linear(self.in_features, groups * config.sub_experts, **factory) if groups else None
        self.task_router = nn.Linear(self.in_features, len(config.capability_experts), **factory) if config.has_task_router else None
        self.dropout = nn.Dropout(config.dropout) if config.dropout > 0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Tokens as rows: the base output is then a plain matrix that the up-projection can add
        # into in place (an in-place add into a view would cost a copy in backward).
        tokens = x.reshape(-1, self.in_features)
        result = self.base_layer(tokens)
        if self.token_router is None:
            down = F.linear(self.dropout(tokens), self.lora_down)  # the shared expert alone (Eq. 2)
        else:
            down = self.gated_down_projection(x, tokens)
        # One matmul applies every up-projection and alpha/r and adds into base(x) (Eq. 9); the
        # frozen layer's output is saved by no backward, so adding in place is safe.  In-place ops
        # escape autocast: under mixed precision the base output is bf16 while lora_up (and the
        # gated down-projection) are float32, so both are cast to the output's dtype (a no-op else).
        result.addmm_(down.to(result.dtype), self.lora_up.to(result.dtype), alpha=self.scaling)
        return result.view(*x.shape[:-1], self.out_features)

    def gated_down_projection(self, x: torch.Tensor, tokens: torch.Tensor) -> torch.Tensor:
        """x B for every LoRA [N, n*r], each sub-expert's r-wide block scaled by g'_i * g_q^i."""
        config = self.config
        groups, experts = len(config.expert_groups), config.sub_experts
        weights, biases = [self.token_router.weight], [self.token_router.bias]
        if self.task_router_runs():
            weights.append(self.task_router.weight)
            biases.append(self.task_router.bias)
        # The sub-experts (Eq. 5), the token routers (Eq. 6) and the task router all read x.  The
        # task router is linear, so it runs per token before the mean over instruction tokens
        # (Eq. 3), which then costs a [B, T, G] reduction instead of a [B, T, d_in] one.  When
        # training, one matmul serves them all, so backward computes one input gradient instead
        # of two; without autograd (e.g. at decode steps) two matmuls spare copying the weights.
        lora_width = self.lora_down.shape[0]
        fuse = isinstance(self.dropout, nn.Identity) and torch.is_grad_enabled()
        if fuse:
            weights.insert(0, self.lora_down)
            biases.insert(0, self.lora_down.new_zeros(lora_width))
        stacked = len(weights) > 1
        projected = F.linear(tokens, torch.cat(weights) if stacked else weights[0], torch.cat(biases) if stacked else biases[0])
        if fuse:
            down, projected = projected[:, :lora_width], projected[:, lora_width:]
        else:
            down = F.linear(self.dropout(tokens), self.lora_down)
        routed = projected.view(*x.shape[:-1], projected.shape[-1])
        # The weights of the mean sum to 1, so the task router's bias passes through it unchanged.
        task_gates = self.task_gates(x, lambda mean_weights: torch.bmm(mean_weights.unsqueeze(1), routed[..., groups * experts :]).squeeze(1))
        token_logits = routed[..., : groups * experts]
        sub_expert_weights = token_logits.unflatten(-1, (groups, experts)).softmax(dim=-1)  # g_q^i, Eq. 6
        self.record_sub_expert_load(sub_expert_weights)
        # Each sub-expert's r-wide block is scaled by g'_i * g_q^i (Eq. 7 inside Eq. 9).
        block_gates = (sub_expert_weights if task_gates is None else sub_expert_weights * task_gates.unsqueeze(-1)).flatten(-2)
        if config.shared_expert:
            block_gates = F.pad(block_gates, (1, 0), value=1.0)  # the shared expert is always on (Eq. 9)
        return (down.view(*block_gates.shape, config.rank) * block_gates.unsqueeze(-1)).view(down.shape)

    def extra_repr(self) -> str:
        config = self.config
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, rank={config.rank}, "
            f"shared_expert={config.shared_expert}, expert_groups={config.expert_groups}, "
            f"sub_experts={config.sub_experts}, routing={config.routing!r}"
        )
