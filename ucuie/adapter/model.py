"""Attach the adapter to any HF causal LM by module-name patterns; save and load it alone.

Usage::

    config = HierarchicalMoEConfig()
    model = attach_adapter(model, config)          # base frozen, only adapter parameters train
    with routing(model, instruction_mask=..., attention_mask=..., capability_labels=...):
        ...                                        # forward, collect_aux_losses, backward

Nothing of transformers or peft is edited or copied: the targeted ``nn.Linear`` children are
replaced by :class:`HierarchicalMoELinear` wrappers, and a forward pre-hook on the model notes
whether a call is a decode step (its KV cache already holds tokens), so that layers reuse the
task gates computed at prefill.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from ucuie.adapter.config import HierarchicalMoEConfig
from ucuie.adapter.context import STATE_ATTRIBUTE, AdapterState, adapter_state
from ucuie.adapter.layer import HierarchicalMoELinear, RoutedLinear

CONFIG_FILE = "adapter_config.json"
WEIGHTS_FILE = "adapter_model.safetensors"


class AdapterError(ValueError):
    """The adapter cannot be attached, saved or loaded; the message names the module or key."""


def _matches(name: str, pattern: str) -> bool:
    return name == pattern or name.endswith("." + pattern)


#: The keyword under which a causal LM's forward receives its KV cache: ``past_key_values`` up to
#: transformers 5.23, ``cache`` from 5.24 on.
CACHE_KEYWORDS = ("cache", "past_key_values")


def _note_decoding(state: AdapterState, module: nn.Module, args: tuple, kwargs: dict) -> None:
    cache = next((kwargs[key] for key in CACHE_KEYWORDS if kwargs.get(key) is not None), None)
    state.decoding = cache is not None and cache.get_seq_length() > 0


def _end_of_forward(state: AdapterState, module: nn.Module, args: tuple, output: object) -> None:
    state.decoding = False


def attach_adapter(model: nn.Module, config: HierarchicalMoEConfig) -> nn.Module:
    """Freeze ``model`` and wrap every ``nn.Linear`` named by ``config.target_modules``; returns ``model``."""
    if hasattr(model, STATE_ATTRIBUTE):
        raise AdapterError(f"{type(model).__name__} already has a hierarchical MoE adapter attached; attach to a fresh base model")
    linears = {name: module for name, module in model.named_modules() if isinstance(module, nn.Linear)}
    targets: list[str] = []
    for pattern in config.target_modules:
        matched = [name for name in linears if _matches(name, pattern)]
        if not matched:
            examples = ", ".join(list(linears)[:6]) or "none"
            raise AdapterError(f"adapter target module pattern {pattern!r} matches no nn.Linear in {type(model).__name__} (linear modules include: {examples})")
        targets += [name for name in matched if name not in targets]
    model.requires_grad_(False)
    state = AdapterState(config)
    for name in targets:
        layer = HierarchicalMoELinear(linears[name], config, state)
        layer.adapter_name = name
        replace_module(model, name, layer)
    setattr(model, STATE_ATTRIBUTE, state)
    model.register_forward_pre_hook(partial(_note_decoding, state), with_kwargs=True)
    model.register_forward_hook(partial(_end_of_forward, state))
    return model


def replace_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put ``module`` at dotted path ``name`` inside ``model``."""
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name), child, module)


def adapter_layers(model: nn.Module) -> Iterator[tuple[str, RoutedLinear]]:
    """``(module name, layer)`` for every wrapped linear of ``model``."""
    for name, module in model.named_modules():
        if isinstance(module, RoutedLinear):
            yield name, module


def adapter_parameters(model: nn.Module) -> dict[str, nn.Parameter]:
    """The adapter's own parameters by full name (the frozen base layers excluded)."""
    return {
        f"{name}.{param_name}": param
        for name, layer in adapter_layers(model)
        for param_name, param in layer.named_parameters()
        if not param_name.startswith("base_layer.")
    }


def save_adapter(model: nn.Module, folder: str | Path) -> Path:
    """Write the adapter alone: ``adapter_model.safetensors`` and ``adapter_config.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tensors = {name: param.detach().contiguous() for name, param in adapter_parameters(model).items()}
    save_file(tensors, str(folder / WEIGHTS_FILE), metadata={"format": "pt"})
    (folder / CONFIG_FILE).write_text(json.dumps(adapter_state(model).config.to_dict(), indent=1) + "\n")
    return folder


def load_adapter(model: nn.Module, folder: str | Path, config: HierarchicalMoEConfig | None = None) -> nn.Module:
    """Attach the adapter saved in ``folder`` to a fresh base ``model`` and load its weights.

    With ``config``, that adapter is attached instead and initialised from the saved weights,
    which must fit it except for task routers: a hard-routing adapter started from a soft one
    drops them, a soft one started from a hard one keeps its freshly initialised routers (capability
    warming never runs the task router, so both routings share one warming run).
    """
    folder = Path(folder)
    for file in (CONFIG_FILE, WEIGHTS_FILE):
        if not (folder / file).is_file():
            raise AdapterError(f"adapter folder {folder} has no {file}: point at a folder written by save_adapter")
    saved_config = HierarchicalMoEConfig.from_dict(json.loads((folder / CONFIG_FILE).read_text()))
    attach_adapter(model, config or saved_config)
    saved = load_file(str(folder / WEIGHTS_FILE))
    params = adapter_parameters(model)
    # Only task routers may be on one side alone, and only when the configs differ.
    optional = (lambda name: ".task_router." in name) if config is not None and config != saved_config else (lambda name: False)
    for name in saved:
        if name not in params and not optional(name):
            raise AdapterError(f"adapter weight {name!r} in {folder / WEIGHTS_FILE} has no place in {type(model).__name__}: was it saved from another model shape?")
    with torch.no_grad():
        for name, param in params.items():
            if name not in saved:
                if optional(name):
                    continue
                raise AdapterError(f"adapter weight {name!r} is missing from {folder / WEIGHTS_FILE}")
            if saved[name].shape != param.shape:
                raise AdapterError(f"adapter weight {name!r} has shape {tuple(saved[name].shape)} in {folder / WEIGHTS_FILE} but {tuple(param.shape)} in the model")
            param.copy_(saved[name])
    return model
