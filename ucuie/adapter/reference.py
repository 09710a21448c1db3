"""The readable, slow reference: the hierarchical MoE adapter as a plain loop over LoRA modules.

Each expert is its own ``LoRA`` module and the output is summed expert by expert, exactly as
Eq. 2-9 are written.  It exists to verify the fused :class:`HierarchicalMoELinear` (the tests
check outputs and every gradient against it) and as the slow baseline of ``ucuie bench-adapter``.
It is never used for training runs.
"""

from __future__ import annotations

import torch
from torch import nn

from ucuie.adapter.layer import HierarchicalMoELinear, RoutedLinear
from ucuie.adapter.model import adapter_layers, replace_module


class LoRA(nn.Module):
    """One LoRA expert without its scale: ``x -> x B A`` with B: d_in x r, A: r x d_out."""

    def __init__(self, in_features: int, out_features: int, rank: int):
        super().__init__()
        self.down = nn.Linear(in_features, rank, bias=False)
        self.up = nn.Linear(rank, out_features, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.up(self.down(x))


class ReferenceHierarchicalMoELinear(RoutedLinear):
    """Same function and parameters as :class:`HierarchicalMoELinear`, one module per expert."""

    def __init__(self, fused: HierarchicalMoELinear):
        super().__init__(fused.base_layer, fused.config, fused.adapter_state)
        self.adapter_name = fused.adapter_name
        config, rank = fused.config, fused.config.rank
        self.dropout = fused.dropout
        loras = []
        for block in range(config.num_loras):
            lora = LoRA(self.in_features, self.out_features, rank).to(fused.lora_down)
            with torch.no_grad():
                lora.down.weight.copy_(fused.lora_down[block * rank : (block + 1) * rank])
                lora.up.weight.copy_(fused.lora_up[block * rank : (block + 1) * rank].t())
            loras.append(lora)
        self.shared_expert = loras.pop(0) if config.shared_expert else None
        experts = config.sub_experts
        self.sub_experts = nn.ModuleList(nn.ModuleList(loras[g * experts : (g + 1) * experts]) for g in range(len(config.expert_groups)))
        self.token_routers = nn.ModuleList()
        for group in range(len(config.expert_groups)):
            router = nn.Linear(self.in_features, experts).to(fused.lora_down)
            with torch.no_grad():
                router.weight.copy_(fused.token_router.weight[group * experts : (group + 1) * experts])
                router.bias.copy_(fused.token_router.bias[group * experts : (group + 1) * experts])
            self.token_routers.append(router)
        self.task_router = None
        if fused.task_router is not None:
            self.task_router = nn.Linear(self.in_features, fused.task_router.out_features).to(fused.lora_down)
            self.task_router.load_state_dict(fused.task_router.state_dict())

    def pooled_task_router_logits(self, x: torch.Tensor, instruction_weights: torch.Tensor) -> torch.Tensor:
        """Eq. 3: the task router on the average of each sample's instruction tokens, sample by sample."""
        pooled = torch.stack([x[b, instruction_weights[b] > 0].mean(0) for b in range(x.shape[0])])
        return self.task_router(pooled)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.base_layer(x)
        h = self.dropout(x)
        if self.shared_expert is not None:
            out = out + self.scaling * self.shared_expert(h)  # Eq. 2
        if not self.sub_experts:
            return out
        task_gates = self.task_gates(x, lambda weights: self.pooled_task_router_logits(x, weights))
        weights = [torch.softmax(router(x), dim=-1) for router in self.token_routers]  # Eq. 6
        self.record_sub_expert_load(torch.stack(weights, dim=-2))
        for group, (sub_experts, g) in enumerate(zip(self.sub_experts, weights)):
            capability_output = sum(g[..., q : q + 1] * self.scaling * expert(h) for q, expert in enumerate(sub_experts))  # Eq. 5, 7
            if task_gates is not None:
                capability_output = task_gates[..., group : group + 1] * capability_output
            out = out + capability_output  # Eq. 9
        return out

    def fused_layout(self, grad: bool = False) -> dict[str, torch.Tensor]:
        """The parameters (or their gradients) stacked as in :class:`HierarchicalMoELinear`."""

        def value(param: nn.Parameter) -> torch.Tensor:
            return param.grad if grad else param.detach()

        loras = ([self.shared_expert] if self.shared_expert is not None else []) + [lora for group in self.sub_experts for lora in group]
        layout = {
            "lora_down": torch.cat([value(lora.down.weight) for lora in loras]),
            "lora_up": torch.cat([value(lora.up.weight) for lora in loras], dim=1).t(),
        }
        if self.token_routers:
            layout["token_router.weight"] = torch.cat([value(router.weight) for router in self.token_routers])
            layout["token_router.bias"] = torch.cat([value(router.bias) for router in self.token_routers])
        if self.task_router is not None:
            layout["task_router.weight"] = value(self.task_router.weight)
            layout["task_router.bias"] = value(self.task_router.bias)
        return layout


def use_reference_layers(model: nn.Module) -> nn.Module:
    """Replace every fused adapter layer of ``model`` by an equal reference layer; returns ``model``."""
    for name, layer in list(adapter_layers(model)):
        if isinstance(layer, HierarchicalMoELinear):
            replace_module(model, name, ReferenceHierarchicalMoELinear(layer))
    return model
