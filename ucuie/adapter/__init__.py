"""The hierarchical MoE adapter of UC-UIE (paper Section 3.4) for any HF causal LM.

Config, attach, train::

    model = attach_adapter(model, HierarchicalMoEConfig())
    with routing(model, instruction_mask=im, attention_mask=am, capability_labels=labels):
        out = model(input_ids=ids, attention_mask=am, labels=targets)
        aux = collect_aux_losses(model)
        (out.loss + 0.1 * aux.bce + 0.1 * aux.entropy).backward()   # Eq. 10

See ``docs/adapter.md`` for the design, the baselines and the measured cost.
"""

from ucuie.adapter.analysis import RoutingRecord, force_capabilities, record_routing_weights
from ucuie.adapter.config import AdapterConfigError, HierarchicalMoEConfig
from ucuie.adapter.context import RoutingContext, RoutingError, capability_label_tensor, routing
from ucuie.adapter.layer import HierarchicalMoELinear
from ucuie.adapter.losses import AuxLosses, collect_aux_losses
from ucuie.adapter.model import AdapterError, adapter_layers, adapter_parameters, attach_adapter, load_adapter, save_adapter

__all__ = [
    "AdapterConfigError",
    "AdapterError",
    "AuxLosses",
    "HierarchicalMoEConfig",
    "HierarchicalMoELinear",
    "RoutingContext",
    "RoutingError",
    "RoutingRecord",
    "adapter_layers",
    "adapter_parameters",
    "attach_adapter",
    "capability_label_tensor",
    "collect_aux_losses",
    "force_capabilities",
    "load_adapter",
    "record_routing_weights",
    "routing",
    "save_adapter",
]
