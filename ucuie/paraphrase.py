"""Instruction paraphrase pools (paper Section 4.1, Figure 4).

For each task and capability sub-task, every base instruction is rewritten ``n`` times by an LLM
backend (:mod:`ucuie.llm`) with the paper's paraphrasing prompt.  Each response is cleaned (first
line, quotes and "Output:" prefixes removed) and filtered; the reasons are counted and logged:

* ``empty`` -- nothing left after cleaning;
* ``too_short`` / ``too_long`` -- fewer than ``min_words`` or more than ``max_words`` words;
* ``format_lost`` -- the task's format statement (:data:`ucuie.instructions.FORMAT_STATEMENTS`)
  no longer appears verbatim, so the model would not be told what to write;
* ``duplicate`` -- equal (case and spacing ignored) to a base instruction or an earlier paraphrase.

What is rewritten is set by ``part``: ``whole`` (the paper's way: the full instruction,
format statement included; suits a strong LLM) or ``description`` (only the sentence before the
format statement, which is appended again afterwards; a small model such as the embedded
SmolLM2-135M cannot copy the notation reliably).  In ``description`` mode a response that writes
curly brackets of its own is counted as ``format_lost``: it would contradict the real notation.

Backend ``pool`` skips generation: the pool is the base instructions alone.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from ucuie.instructions import FORMAT_STATEMENTS, base_descriptions, base_instructions, instruction_tasks, with_format_statement
from ucuie.llm import CachedBackend, make_backend

_SYSTEM = "You are a helpful AI assistant."
_PROMPT = (
    "Please rewrite the following task instruction into another version that is functionally equivalent "
    "but uses different wording and structure. Avoid changing the core meaning. Copy the output format "
    "written in curly brackets exactly as it is.\n"
    "Examples (Input -> Paraphrased Output)\n"
    "NER: Input: Please list all entity words in the text that fit the types. "
    "Output: Identify every named entity in the sentence and specify its corresponding types.\n"
    "RE: Input: Given a sentence, detect the subject and object entities that are connected via a relation "
    "from the provided list. Output: Please identify the subject and object pairs in the sentence that are "
    "involved in any of the specified relation types.\n"
    "EE: Input: Extract the trigger word and arguments for each event mentioned in the sentence. "
    "Output: For every event described in the sentence, find the trigger and the associated argument roles.\n"
    "-----\n"
    "Input: {instruction}\nOutput:"
)
# Labels a model copies from the few-shot examples ("NER: Input: ...", "Output: ...").
_LEADING_LABELS = re.compile(r"^\s*(?:(?:[A-Z]{2,5}|input|output|paraphrased output|paraphrase|sentence|task)\s*:\s*)+", re.IGNORECASE)
_OUTPUT_LABEL = re.compile(r"\boutput\s*:", re.IGNORECASE)
REASONS = ("empty", "too_short", "too_long", "format_lost", "duplicate")
PARTS = ("whole", "description")


def paraphrase_messages(instruction: str) -> list[dict[str, str]]:
    """The chat messages asking for one paraphrase of ``instruction`` (the paper's Figure 4 prompt)."""
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": _PROMPT.format(instruction=instruction)}]


def clean_response(response: str) -> str:
    """The paraphrase inside a raw response: its first line, after the last non-empty "Output:",
    without leading labels or surrounding quotes."""
    lines = [line.strip() for line in response.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    pieces = [piece.strip() for piece in _OUTPUT_LABEL.split(lines[0])]
    text = next((piece for piece in reversed(pieces) if piece), "")
    text = _LEADING_LABELS.sub("", text.strip("\"' ")).strip()
    return text.strip("\"' ")


def _normalise(text: str) -> str:
    return " ".join(text.lower().split())


def rejection_reason(rewritten: str, instruction: str, task: str, seen: set[str], min_words: int, max_words: int) -> str | None:
    """Why a response is not kept (one of :data:`REASONS`), or ``None`` to keep it.

    ``rewritten`` is the text the model wrote (length limits apply to it); ``instruction`` is
    what would enter the pool (it must carry the format statement and be new).
    """
    words = len(rewritten.split())
    if not rewritten:
        return "empty"
    if words < min_words:
        return "too_short"
    if words > max_words:
        return "too_long"
    if FORMAT_STATEMENTS[task] not in instruction:
        return "format_lost"
    if _normalise(instruction) in seen:
        return "duplicate"
    return None


@dataclass
class ParaphrasePool:
    """Instructions per task, and per task how many generated paraphrases were kept or why not."""

    backend: str
    instructions: dict[str, list[str]]
    stats: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_json(self) -> dict:
        return {"backend": self.backend, "instructions": self.instructions, "stats": self.stats}

    @classmethod
    def from_json(cls, obj: dict) -> ParaphrasePool:
        return cls(backend=obj["backend"], instructions=obj["instructions"], stats=obj.get("stats", {}))


def _judge(cleaned: str, task: str, part: str, seen: set[str], min_words: int, max_words: int) -> tuple[str, str | None]:
    """The instruction a cleaned response gives, and why it is rejected (``None``: kept)."""
    if part == "description":
        if "{" in cleaned or "}" in cleaned:
            return cleaned, "format_lost"
        instruction = with_format_statement(cleaned, task) if cleaned else ""
    else:
        instruction = cleaned
    return instruction, rejection_reason(cleaned, instruction, task, seen, min_words, max_words)


def _seed_for(text: str, seed: int) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{text}".encode()).digest()[:4], "little")


def build_pool(
    backend: CachedBackend | None,
    n: int,
    seed: int,
    min_words: int = 5,
    max_words: int = 60,
    tasks: list[str] | None = None,
    part: str = "whole",
) -> ParaphrasePool:
    """Base instructions of every task plus up to ``n`` filtered paraphrases of each."""
    if part not in PARTS:
        raise ValueError(f"instructions.paraphrase_part must be one of {PARTS}, not {part!r}")
    tasks = tasks or instruction_tasks()
    pool = ParaphrasePool(backend="pool" if backend is None else backend.backend.identity["backend"], instructions={})
    sources = base_instructions if part == "whole" else base_descriptions
    jobs = [(task, base) for task in tasks for base in sources(task)]
    for task in tasks:
        pool.instructions[task] = base_instructions(task)
        pool.stats[task] = {"base": len(pool.instructions[task]), "generated": 0, "kept": 0, **dict.fromkeys(REASONS, 0)}
    if backend is None or n == 0:
        return pool
    seen = {task: {_normalise(b) for b in pool.instructions[task]} for task in tasks}
    for task, base in tqdm(jobs, desc="paraphrasing instructions", unit="instruction"):
        responses = backend.complete(paraphrase_messages(base), n, _seed_for(base, seed))
        reasons = Counter()
        for response in responses:
            candidate, reason = _judge(clean_response(response), task, part, seen[task], min_words, max_words)
            if reason is None:
                pool.instructions[task].append(candidate)
                seen[task].add(_normalise(candidate))
                reasons["kept"] += 1
            else:
                reasons[reason] += 1
        stats = pool.stats[task]
        stats["generated"] += len(responses)
        for key, count in reasons.items():
            stats[key] += count
    return pool


def paraphrase_from_config(settings: dict, backbone_path: str | Path | None, cache_dir: str | Path, seed: int) -> ParaphrasePool:
    """Build the pool the ``instructions`` config section asks for, logging the filter counts."""
    kind = settings["backend"]
    backend = None
    if kind != "pool":
        backend = make_backend(kind, settings[kind], backbone_path, cache_dir)
    pool = build_pool(
        backend,
        n=settings["paraphrases_per_instruction"],
        seed=seed,
        min_words=settings["min_words"],
        max_words=settings["max_words"],
        part=settings["paraphrase_part"],
    )
    for task, stats in pool.stats.items():
        print(f"{task}: " + ", ".join(f"{key}={value}" for key, value in stats.items()))
    if backend is not None:
        print(f"response cache {cache_dir}: {backend.hits} hits, {backend.misses} generated")
    return pool
