"""One perturbation type over a set of records: generate, validate, count, and keep examples."""

from __future__ import annotations

import hashlib
import heapq
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tqdm import tqdm

from ucuie.llm import CachedBackend
from ucuie.perturb import lexicon as lexicon_backend
from ucuie.perturb import llm as llm_backend
from ucuie.perturb.edits import perturbed_id
from ucuie.perturb.kinds import (
    CHANGE_CONTEXT,
    EXTEND_SENTENCE,
    LOWERCASE,
    PERTURBATIONS,
    REPLACE_ENTITY,
    REPLACE_TRIGGER,
    REPLACE_TRIPLE,
    TYPE_NAMES,
    TYPO,
)
from ucuie.perturb.lexicon import Lexicon
from ucuie.perturb.llm import UnusableResponse
from ucuie.perturb.rules import TYPO_RATE, lowercase, typo
from ucuie.perturb.targets import MAX_CONTEXT_WORDS
from ucuie.perturb.validate import check, reason_identifier
from ucuie.records import Record

#: How many accepted and how many rejected outputs :attr:`PerturbResult.examples` shows.
EXAMPLES_PER_STATUS = 20

_LEXICON_GENERATORS = {
    REPLACE_ENTITY: lexicon_backend.replace_entity,
    REPLACE_TRIPLE: lexicon_backend.replace_triple,
    REPLACE_TRIGGER: lexicon_backend.replace_trigger,
    CHANGE_CONTEXT: lexicon_backend.change_context,
    EXTEND_SENTENCE: lexicon_backend.extend_sentence,
}
_LLM_GENERATORS = {
    REPLACE_ENTITY: llm_backend.replace_entity,
    REPLACE_TRIPLE: llm_backend.replace_triple,
    REPLACE_TRIGGER: llm_backend.replace_trigger,
    CHANGE_CONTEXT: llm_backend.change_context,
    EXTEND_SENTENCE: llm_backend.extend_sentence,
}

#: ``generate(record, rng, seed)``: a perturbed record, or ``None`` when the type cannot apply.
Generator = Callable[[Record, random.Random, int], Record | None]


@dataclass
class PerturbResult:
    """The accepted perturbed records, how many sources the type could not apply to, the
    rejections per reason identifier (each rejected output counted once, under its first reason),
    and a bounded, deterministic sample of accepted and rejected outputs for a person to read."""

    records: list[Record] = field(default_factory=list)
    not_applicable: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    examples: list[dict] = field(default_factory=list)


def record_seed(seed: int, record_id: str, kind: str) -> int:
    """A record's own seed for ``kind``: a hash, so it does not depend on the record's position."""
    return int.from_bytes(hashlib.sha256(f"{seed}\0{record_id}\0{kind}".encode()).digest()[:8], "little")


def _generator(
    kind: str, lexicon: Lexicon | None, backend: CachedBackend | None, use_llm: bool, typo_rate: float, max_context_words: int
) -> Generator:
    if kind == TYPO:
        return lambda record, rng, seed: typo(record, rng, typo_rate)
    if kind == LOWERCASE:
        return lambda record, rng, seed: lowercase(record)
    options = {"max_words": max_context_words} if kind == CHANGE_CONTEXT else {}
    if use_llm:
        if backend is None:
            raise ValueError(f"perturbation type {kind!r} with the llm backend needs a backend; pass backend=")
        generate = _LLM_GENERATORS[kind]
        # A 31-bit seed suits every backend (OpenAI's API and torch alike).
        return lambda record, rng, seed: generate(record, lexicon, rng, backend=backend, seed=seed % 2**31, **options)
    if lexicon is None:
        raise ValueError(f"perturbation type {kind!r} with the lexicon backend needs a lexicon; pass lexicon=Lexicon.from_records(...)")
    generate = _LEXICON_GENERATORS[kind]
    return lambda record, rng, seed: generate(record, lexicon, rng, **options)


def _example(record: Record, perturbed: Record | None, kind: str, reasons: list[str]) -> dict:
    return {
        "id": perturbed_id(record.id, kind),
        "status": "rejected" if reasons else "accepted",
        "reasons": reasons,
        "original": record.to_json(),
        "perturbed": None if perturbed is None else perturbed.to_json(),
    }


def perturb_records(
    records: Iterable[Record],
    kind: str,
    *,
    seed: int,
    lexicon: Lexicon | None = None,
    backend: CachedBackend | None = None,
    use_llm: bool = False,
    typo_rate: float = TYPO_RATE,
    max_context_words: int = MAX_CONTEXT_WORDS,
) -> PerturbResult:
    """Perturb every record by ``kind`` and keep the outputs the validators accept.

    Typo and Lowercase are rules (``typo_rate`` sets Typo's share of eligible words); the other
    types draw from ``lexicon`` or, with ``use_llm``, ask ``backend`` (``lexicon`` then only adds
    its surface forms to the Extend Sentence check).
    Each record gets its own ``random.Random`` seeded from ``(seed, record id, kind)``, so the
    outputs do not depend on the order of ``records``; perturbed ids are ``<id>~<kind>``.
    A record whose task has no type ``kind`` raises ValueError, before anything is generated.
    """
    if kind not in TYPE_NAMES:
        raise ValueError(f"unknown perturbation type {kind!r}; expected one of {sorted(TYPE_NAMES)}")
    records = list(records)
    for record in records:
        if kind not in PERTURBATIONS.get(record.task, ()):
            raise ValueError(
                f"record {record.id!r} of task {record.task!r} has no perturbation type {kind!r}; "
                f"its task has {list(PERTURBATIONS.get(record.task, ()))}"
            )
    generate = _generator(kind, lexicon, backend, use_llm, typo_rate, max_context_words)
    result = PerturbResult()
    # (record seed, source, output, reasons) of every output: the examples are those with the
    # smallest record seeds, a sample that does not depend on the order of the records.
    outcomes: dict[str, list[tuple[int, Record, Record | None, list[str]]]] = {"accepted": [], "rejected": []}
    for record in tqdm(records, desc=f"perturbing: {TYPE_NAMES[kind]}", unit="record"):
        key = record_seed(seed, record.id, kind)
        try:
            perturbed = generate(record, random.Random(key), key)
        except UnusableResponse as exc:
            perturbed, reasons = None, [exc.reason]
        else:
            if perturbed is None:
                result.not_applicable += 1
                continue
            reasons = check(record, perturbed, kind, lexicon)
        if reasons:
            result.rejected[reason_identifier(reasons[0])] += 1
        else:
            result.records.append(perturbed)
        outcomes["rejected" if reasons else "accepted"].append((key, record, perturbed, reasons))
    result.examples = [
        _example(record, perturbed, kind, reasons)
        for items in outcomes.values()
        for _, record, perturbed, reasons in heapq.nsmallest(EXAMPLES_PER_STATUS, items, key=lambda item: item[0])
    ]
    return result
