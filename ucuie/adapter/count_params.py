"""``ucuie count-params``: base and adapter parameter counts of a model shape, on the meta device.

The model is built on the meta device (shapes only, no weights, no memory), the paper's adapter
is attached, and the counts are printed one per line.  On the LLaMA-2-7B shape this reproduces
the paper's "~84M trainable parameters, 1.24%"::

    base_params=6738415616
    trainable_params=84616608
    trainable_percent=1.240
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ucuie.adapter.config import HierarchicalMoEConfig

#: LLaMA-architecture shapes by name (transformers ``LlamaConfig`` keyword arguments).
SHAPES: dict[str, dict] = {
    "llama-2-7b": {"vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008, "num_hidden_layers": 32, "num_attention_heads": 32, "num_key_value_heads": 32, "tie_word_embeddings": False},
    "smollm2-135m": {"vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9, "num_key_value_heads": 3, "tie_word_embeddings": True},
    "tiny": {"vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "tie_word_embeddings": False},
}


def count_parameters(shape: str, config: HierarchicalMoEConfig | None = None) -> dict[str, float]:
    """``base_params``, ``trainable_params`` and ``trainable_percent`` (of base + adapter) for a shape.

    ``config`` defaults to the paper's adapter.  Imports happen here so ``ucuie --help`` stays fast.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from ucuie.adapter.config import HierarchicalMoEConfig
    from ucuie.adapter.model import attach_adapter

    with torch.device("meta"):
        model = LlamaForCausalLM(LlamaConfig(**SHAPES[shape]))
        base = sum(param.numel() for param in model.parameters())
        attach_adapter(model, config or HierarchicalMoEConfig())
    trainable = sum(param.numel() for param in model.parameters() if param.requires_grad)
    return {"base_params": base, "trainable_params": trainable, "trainable_percent": 100.0 * trainable / (base + trainable)}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--shape", choices=sorted(SHAPES), default="llama-2-7b", help="model shape (default: llama-2-7b, the paper's backbone)")


def run(args: argparse.Namespace) -> int:
    counts = count_parameters(args.shape)
    print(f"base_params={counts['base_params']}")
    print(f"trainable_params={counts['trainable_params']}")
    print(f"trainable_percent={counts['trainable_percent']:.3f}")
    return 0
