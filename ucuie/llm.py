"""Chat-completion backends for offline text generation (instruction paraphrasing, perturbations).

* :class:`HFChatBackend` -- a local causal LM through transformers and its chat template.
* :class:`OpenAIChatBackend` -- any OpenAI-compatible ``/chat/completions`` endpoint (URL, model
  and the name of the environment variable holding the key come from config).

Both sit behind :class:`CachedBackend`, which stores every response on disk under the SHA-256 of
(backend identity, messages, sample index): a rerun, or another rule asking the same thing,
never pays for a completion twice, and an interrupted run resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

Messages = list[dict[str, str]]


class LLMError(RuntimeError):
    """A backend could not be reached or answered badly; the message says which and why."""


class ChatBackend(Protocol):
    #: Everything that changes the answers (model, sampling settings); part of the cache key.
    identity: dict

    def complete(self, messages: Messages, n: int, seed: int) -> list[str]:
        """Return ``n`` sampled completions of ``messages``."""


class HFChatBackend:
    """A local Hugging Face causal LM, prompted through its chat template, sampling on CPU/GPU."""

    def __init__(self, model_path: str | Path, max_new_tokens: int = 64, temperature: float = 0.8, top_p: float = 0.95):
        from ucuie.backbone import load_backbone

        self.model, self.tokenizer = load_backbone(model_path)
        self.model.eval()
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.identity = {
            "backend": "hf",
            "model": self.model.config.name_or_path or str(model_path),
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
        }

    def complete(self, messages: Messages, n: int, seed: int) -> list[str]:
        import torch

        if self.tokenizer.chat_template is None:
            prompt = "\n".join(m["content"] for m in messages) + "\n"
        else:
            prompt = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        inputs = self.tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
        torch.manual_seed(seed)
        with torch.no_grad():
            out = self.model.generate(
                **inputs,
                do_sample=True,
                temperature=self.temperature,
                top_p=self.top_p,
                max_new_tokens=self.max_new_tokens,
                num_return_sequences=n,
                pad_token_id=self.tokenizer.pad_token_id,
            )
        new_tokens = out[:, inputs["input_ids"].shape[1] :]
        return self.tokenizer.batch_decode(new_tokens, skip_special_tokens=True)


class OpenAIChatBackend:
    """An OpenAI-compatible endpoint; one HTTP request per completion (``n`` is not universal)."""

    def __init__(self, url: str, model: str, api_key_env: str = "OPENAI_API_KEY", temperature: float = 0.8, max_tokens: int = 128, timeout_s: float = 60):
        if not url or not model:
            raise LLMError("the openai backend needs instructions.openai.url and instructions.openai.model in the config")
        self.url = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.api_key = os.environ.get(api_key_env, "")
        self.api_key_env = api_key_env
        self.temperature = temperature
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.identity = {"backend": "openai", "url": self.url, "model": model, "temperature": temperature, "max_tokens": max_tokens}

    def _request(self, messages: Messages, seed: int) -> str:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "max_tokens": self.max_tokens, "seed": seed}
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                payload = json.loads(response.read().decode())
        except urllib.error.HTTPError as exc:
            hint = f" (is ${self.api_key_env} set?)" if exc.code in (401, 403) else ""
            raise LLMError(f"{self.url} answered HTTP {exc.code}{hint}: {exc.read()[:200]!r}") from exc
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            raise LLMError(f"could not reach {self.url}: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise LLMError(f"{self.url} did not answer with JSON: {exc}") from exc
        try:
            return payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError(f"{self.url} answered without choices[0].message.content: {str(payload)[:200]}") from exc

    def complete(self, messages: Messages, n: int, seed: int) -> list[str]:
        return [self._request(messages, seed + i) for i in range(n)]


class CachedBackend:
    """Wraps a backend with an on-disk response cache keyed by the prompt hash."""

    def __init__(self, backend: ChatBackend, cache_dir: str | Path):
        self.backend = backend
        self.cache_dir = Path(cache_dir)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        self.hits = 0
        self.misses = 0

    def _key(self, messages: Messages, index: int) -> Path:
        blob = json.dumps({"backend": self.backend.identity, "messages": messages, "index": index}, sort_keys=True)
        return self.cache_dir / (hashlib.sha256(blob.encode()).hexdigest() + ".json")

    def complete(self, messages: Messages, n: int, seed: int) -> list[str]:
        """``n`` completions, the cached ones read from disk and only the missing ones generated."""
        paths = [self._key(messages, i) for i in range(n)]
        if all(p.is_file() for p in paths):
            self.hits += n
            return [json.loads(p.read_text())["response"] for p in paths]
        self.misses += n
        responses = self.backend.complete(messages, n, seed)
        for path, response in zip(paths, responses):
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps({"response": response}, ensure_ascii=False))
            tmp.replace(path)
        return responses


def make_backend(kind: str, settings: dict, backbone_path: str | Path | None, cache_dir: str | Path) -> CachedBackend:
    """Build the configured backend (``hf`` or ``openai``) wrapped in the response cache."""
    if kind == "hf":
        model = settings.get("model", "backbone")
        path = backbone_path if model == "backbone" else model
        if path is None:
            raise LLMError("the hf backend needs a model: set instructions.hf.model to 'backbone' or a local HF folder")
        backend: ChatBackend = HFChatBackend(path, settings.get("max_new_tokens", 64), settings.get("temperature", 0.8), settings.get("top_p", 0.95))
    elif kind == "openai":
        backend = OpenAIChatBackend(**settings)
    else:
        raise LLMError(f"unknown LLM backend {kind!r}; expected 'hf' or 'openai'")
    return CachedBackend(backend, cache_dir)
