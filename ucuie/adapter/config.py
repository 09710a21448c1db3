"""The one place that holds every hyper-parameter of the hierarchical MoE adapter.

The defaults are the paper's (Section 4.1): rank r=4, alpha=8, Q=4 sub-experts per capability
expert, the three capability experts plus a shared expert, soft (learned) task routing, wrapping
``mlp.gate_proj``, ``mlp.up_proj`` and ``mlp.down_proj`` of every decoder layer.

The paper's baselines and ablations come from the same config:

=========================  ================================================================
variant                    config
=========================  ================================================================
UC-UIE                     ``HierarchicalMoEConfig()``
UC-UIE^h (hard router)     ``routing="hard"``
w/o shared expert          ``shared_expert=False``
Backbone+LoRA              ``capability_experts=()`` (the shared expert alone is one LoRA)
Backbone+LoRA-MoE          ``routing="flat", capability_experts=(), sub_experts=N``
Figure 5 (Q sweep)         ``sub_experts=Q`` for Q in 1..8
=========================  ================================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from ucuie.tasks import CAPABILITIES

ROUTINGS = ("soft", "hard", "flat")
PAPER_TARGET_MODULES = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")
#: Name of the single token-routed expert group of the flat LoRA-MoE baseline.
FLAT_GROUP = "lora_moe"


class AdapterConfigError(ValueError):
    """An adapter config key has a bad value; the message names the key."""


@dataclass(frozen=True)
class HierarchicalMoEConfig:
    """Hyper-parameters of the hierarchical MoE adapter (paper Section 3.4).

    ``routing`` picks how capability experts are weighted: ``soft`` learns a task router
    (Eq. 3), ``hard`` uses the task's capability labels as gates (UC-UIE^h, no task router),
    ``flat`` replaces the hierarchy by one token-routed mixture of ``sub_experts`` LoRAs
    (the LoRA-MoE baseline; needs ``capability_experts=()``).
    ``target_modules`` are name suffixes: a module is wrapped when its dotted name equals a
    pattern or ends with ``"." + pattern``.
    """

    rank: int = 4
    alpha: float = 8.0
    sub_experts: int = 4
    dropout: float = 0.0
    capability_experts: tuple[str, ...] = CAPABILITIES
    routing: str = "soft"
    shared_expert: bool = True
    target_modules: tuple[str, ...] = PAPER_TARGET_MODULES

    def __post_init__(self) -> None:
        # Lists from JSON/YAML become tuples so the config stays hashable and immutable.
        object.__setattr__(self, "capability_experts", tuple(self.capability_experts))
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if not isinstance(self.rank, int) or self.rank < 1:
            raise AdapterConfigError(f"adapter config key 'rank' must be a positive integer, got {self.rank!r}")
        if not isinstance(self.sub_experts, int) or self.sub_experts < 1:
            raise AdapterConfigError(f"adapter config key 'sub_experts' must be a positive integer, got {self.sub_experts!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise AdapterConfigError(f"adapter config key 'dropout' must be in [0, 1), got {self.dropout!r}")
        if self.routing not in ROUTINGS:
            raise AdapterConfigError(f"adapter config key 'routing' must be one of {', '.join(ROUTINGS)}, got {self.routing!r}")
        unknown = [c for c in self.capability_experts if c not in CAPABILITIES]
        if unknown:
            raise AdapterConfigError(f"adapter config key 'capability_experts' has unknown capability {unknown[0]!r}; known: {', '.join(CAPABILITIES)}")
        if len(set(self.capability_experts)) != len(self.capability_experts):
            raise AdapterConfigError(f"adapter config key 'capability_experts' lists a capability twice: {list(self.capability_experts)}")
        if self.routing == "flat" and self.capability_experts:
            raise AdapterConfigError("adapter config key 'capability_experts' must be empty with routing='flat' (the LoRA-MoE baseline has no capability experts)")
        if not self.target_modules:
            raise AdapterConfigError("adapter config key 'target_modules' is empty; name at least one module, e.g. 'mlp.gate_proj'")
        if not self.shared_expert and not self.expert_groups:
            raise AdapterConfigError("adapter config has no expert at all: set 'shared_expert' to true or name 'capability_experts'")

    @property
    def scaling(self) -> float:
        """The LoRA scale alpha / r of Eq. 2 and Eq. 5."""
        return self.alpha / self.rank

    @property
    def expert_groups(self) -> tuple[str, ...]:
        """Names of the token-routed expert groups: the capability experts, or the flat MoE."""
        return (FLAT_GROUP,) if self.routing == "flat" else self.capability_experts

    @property
    def has_task_router(self) -> bool:
        """Whether each wrapped linear has a task router (soft routing over capability experts)."""
        return self.routing == "soft" and bool(self.capability_experts)

    @property
    def num_loras(self) -> int:
        """LoRA blocks per wrapped linear: the shared expert plus every sub-expert."""
        return int(self.shared_expert) + len(self.expert_groups) * self.sub_experts

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HierarchicalMoEConfig:
        """Build a config from :meth:`to_dict` output; unknown keys are an error."""
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise AdapterConfigError(f"adapter config key {key!r} is not known (known keys: {', '.join(known)})")
        return cls(**data)
