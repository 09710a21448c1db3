"""Shared fixtures: a tiny random LLaMA with the embedded SmolLM2 tokenizer, built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ucuie.backbone import materialise_backbone

TINY_SHAPE = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2}


def shared_data_dir() -> Path:
    """The public datasets beside the project (``../shared/data``), or ``$UCUIE_SHARED_DATA``."""
    return Path(os.environ.get("UCUIE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


@pytest.fixture(scope="session")
def tiny_backbone(tmp_path_factory) -> Path:
    return materialise_backbone("random-llama", tmp_path_factory.mktemp("backbone") / "tiny", TINY_SHAPE)
