"""The ``llm`` backend of the generated perturbation types: the paper's prompts and tolerant parsers.

The paper has GPT-4 write Replace, Change Context and Extend Sentence.  Each generator here
builds chat messages with the paper's constraints written into the prompt, asks the backend it
is given (:class:`ucuie.llm.CachedBackend`, or anything with ``complete(messages, n, seed)``)
for one completion, and parses the answer tolerantly: first line, labels such as "Answer:" and
surrounding quotes removed.  An answer that cannot be used raises :class:`UnusableResponse` with
a reason; an answer that can be used but breaks a constraint is not repaired here -- the
validators (:mod:`ucuie.perturb.validate`) reject it.

The generators have the lexicon generators' signature plus ``backend`` and ``seed``, so a caller
picks either backend per type.  Which spans and words are changed, and how, is shared with the
lexicon backend (:mod:`ucuie.perturb.targets`).
"""

from __future__ import annotations

import random
import re

from ucuie.llm import CachedBackend, Messages
from ucuie.perturb.kinds import CHANGE_CONTEXT, EXTEND_SENTENCE, REPLACE_ENTITY, REPLACE_TRIGGER, REPLACE_TRIPLE
from ucuie.perturb.lexicon import Lexicon
from ucuie.perturb.targets import (
    MAX_CONTEXT_WORDS,
    SIDES,
    Mention,
    PoolKey,
    extend,
    mentions_to_replace,
    pick_context_words,
    replace_mentions,
    replace_words,
)
from ucuie.records import Record
from ucuie.tasks import EE, NER, RE

#: Longer answers are explanations, not mentions, fillers or one or two sentences.
MAX_MENTION_WORDS = 8
MAX_FILLER_WORDS = 3
MAX_EXTENSION_WORDS = 80
FILLERS_PER_MASK = 3

_SYSTEM = "You edit sentences for an information extraction benchmark. Follow every constraint and answer in the requested format only."
_LABEL = re.compile(
    r"^(?:[-*\u2022]\s*)?(?:(?:answer|output|response|replacement|new (?:entity|mention|trigger|text)|entity|mention|trigger|"
    r"added (?:text|sentences?)|sentences?|text)\s*:\s*)+",
    re.IGNORECASE,
)
_QUOTES = "\"'`*\u201c\u201d\u2018\u2019 "
#: The placeholder of the answer format shown in the Change Context prompt; a small model copies it.
_PLACEHOLDER = "word"
_MASK_LINE = re.compile(r"MASK\s*(\d+)\s*\]?\s*[:=\-\u2013]\s*(.+)", re.IGNORECASE)

_REPLACE_PROMPTS = {
    REPLACE_ENTITY: (
        "entity mention",
        'In the sentence below, "{mention}" is an entity mention of type {type}. Write a different entity '
        "mention of type {type} that could stand in its place.",
    ),
    REPLACE_TRIPLE: (
        "entity",
        'In the sentence below, "{mention}" is an entity of type {type} that takes part in a relation. Write a '
        "different entity of type {type} that could stand in its place, so that the relation still reads naturally.",
    ),
    REPLACE_TRIGGER: (
        "trigger",
        'In the sentence below, "{mention}" is the trigger word of an event of type {type}. Write a different '
        "trigger word or phrase that expresses an event of type {type} and could stand in its place.",
    ),
}
_NEW_FACTS = {
    NER: "must not mention any entity (of any of these types: {types})",
    RE: "must not mention any entity (of any of these types: {types}) or state any new relation",
    EE: "must not describe any event (of any of these types: {types})",
}


class UnusableResponse(Exception):
    """The model's answer cannot be used; ``reason`` is a short identifier and detail."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _messages(prompt: str) -> Messages:
    return [{"role": "system", "content": _SYSTEM}, {"role": "user", "content": prompt}]


def clean_line(response: str) -> str:
    """The first non-empty line of ``response`` without leading labels ("Answer:") or quotes."""
    line = next((line.strip() for line in response.splitlines() if line.strip()), "")
    return _LABEL.sub("", line.strip(_QUOTES)).strip(_QUOTES)


def _describe(key: PoolKey) -> str:
    return key if isinstance(key, str) else f"{key[1]} of a {key[0]} relation"


def replace_messages(record: Record, mention: Mention, kind: str) -> Messages:
    """Ask for one different mention of ``mention``'s type(s), to replace it in ``record``."""
    noun, task = _REPLACE_PROMPTS[kind]
    types = " and ".join(_describe(key) for key in mention.keys)
    prompt = (
        task.format(mention=mention.text, type=types)
        + f'\nIt must be of the same type and a different string from "{mention.text}". '
        f"Answer with the new {noun} only, on one line, without quotes or explanation.\n\nSentence: {record.text}"
    )
    return _messages(prompt)


def parse_mention(response: str, original: str) -> tuple[str | None, str | None]:
    """``(mention, None)`` from a replace answer, or ``(None, reason)``.

    A final period is dropped unless the original mention ends with one ("Peru." -> "Peru").
    """
    mention = clean_line(response)
    if mention.endswith(".") and not original.endswith("."):
        mention = mention[:-1].rstrip(_QUOTES)
    if not mention:
        return None, "empty_response"
    if len(mention.split()) > MAX_MENTION_WORDS:
        return None, f"too_long: {len(mention.split())} words"
    return mention, None


def masked_text(record: Record, words: list[re.Match]) -> str:
    """``record``'s text with the chosen words (in text order) written ``[MASK1]``, ``[MASK2]``, ..."""
    pieces, position = [], 0
    for number, match in enumerate(words, start=1):
        pieces += [record.text[position : match.start()], f"[MASK{number}]"]
        position = match.end()
    return "".join(pieces) + record.text[position:]


def mask_messages(record: Record, words: list[re.Match]) -> Messages:
    """Ask for three fillers of each mask, one line per mask: ``MASK1: a | b | c``."""
    example = "\n".join(f"MASK{number}: {_PLACEHOLDER} | {_PLACEHOLDER} | {_PLACEHOLDER}" for number in range(1, len(words) + 1))
    prompt = (
        f"Each [MASKn] in the sentence below replaces one word. For each mask propose {FILLERS_PER_MASK} different "
        "words that fit the sentence, keep it fluent, and change neither its entities nor its events. "
        f"Answer with one line per mask in exactly this form and nothing else:\n{example}\n\n"
        f"Sentence: {masked_text(record, words)}"
    )
    return _messages(prompt)


def _clean_filler(filler: str) -> str | None:
    filler = filler.strip(_QUOTES + "[](),.;:")
    words = filler.split()
    if not words or len(words) > MAX_FILLER_WORDS or not any(c.isalpha() for c in filler) or "mask" in filler.lower() or filler.lower() == _PLACEHOLDER:
        return None
    return filler


def parse_fillers(response: str, masks: int) -> tuple[dict[int, list[str]] | None, str | None]:
    """``({mask number: fillers}, None)`` from a Change Context answer, or ``(None, reason)``.

    Lines may carry brackets or numbering around ``MASKn``; fillers are separated by ``|`` (or
    commas when there is no ``|``); only the first three usable fillers of a mask are kept.
    """
    fillers: dict[int, list[str]] = {}
    for line in response.splitlines():
        found = _MASK_LINE.search(line)
        if found is None or int(found[1]) in fillers:
            continue
        pieces = found[2].split("|") if "|" in found[2] else found[2].split(",")
        usable = [filler for filler in map(_clean_filler, pieces) if filler is not None]
        if usable:
            fillers[int(found[1])] = usable[:FILLERS_PER_MASK]
    if not fillers:
        return None, "empty_response" if not response.strip() else "bad_format: no 'MASKn: a | b | c' line"
    missing = [f"MASK{number}" for number in range(1, masks + 1) if number not in fillers]
    if missing:
        return None, f"missing_fillers: {', '.join(missing)}"
    return fillers, None


def _schema_types(record: Record, lexicon: Lexicon | None) -> list[str]:
    types = {frame.type for frame in record.frames}
    types.update(slot.filler_type for frame in record.frames for slot in frame.slots if slot.filler_type is not None)
    if lexicon is not None:
        types.update(lexicon.schema_types.get(record.task, ()))
    return sorted(types)


def extend_messages(record: Record, side: str, types: list[str]) -> Messages:
    """Ask for one or two related sentences to put ``side`` (before or after) ``record``'s text."""
    new_facts = _NEW_FACTS[record.task].format(types=", ".join(types) or "any")
    prompt = (
        f"Write one or two sentences that could come {side} the sentence below in the same text, on the same topic. "
        f"The added text {new_facts}, and must not change or contradict what the sentence says. "
        f"Answer with the added text only, on one line, without repeating the sentence.\n\nSentence: {record.text}"
    )
    return _messages(prompt)


def parse_extension(response: str, original: str) -> tuple[str | None, str | None]:
    """``(added text, None)`` from an Extend Sentence answer, or ``(None, reason)``."""
    addition = clean_line(response)
    if not addition:
        return None, "empty_response"
    if original.lower() in addition.lower():
        return None, "echoed_sentence: the answer repeats the sentence"
    if len(addition.split()) > MAX_EXTENSION_WORDS:
        return None, f"too_long: {len(addition.split())} words"
    return addition, None


def _ask(backend: CachedBackend, messages: Messages, seed: int) -> str:
    return backend.complete(messages, 1, seed)[0]


def _replace(record: Record, backend: CachedBackend, seed: int, kind: str) -> Record | None:
    mentions = mentions_to_replace(record, kind)
    if mentions is None:
        return None
    replacements = {}
    for mention in mentions:
        new, reason = parse_mention(_ask(backend, replace_messages(record, mention, kind), seed), mention.text)
        if new is None:
            raise UnusableResponse(reason)
        replacements[mention.text] = new
    return replace_mentions(record, replacements, mentions, kind)


def replace_entity(record: Record, lexicon: Lexicon | None, rng: random.Random, *, backend: CachedBackend, seed: int) -> Record | None:
    """Replace Entity by the model: one question per distinct mention (the model chooses, so
    ``lexicon`` and ``rng`` are not used)."""
    return _replace(record, backend, seed, REPLACE_ENTITY)


def replace_triple(record: Record, lexicon: Lexicon | None, rng: random.Random, *, backend: CachedBackend, seed: int) -> Record | None:
    """Replace Triple by the model: one question per distinct subject or object string."""
    return _replace(record, backend, seed, REPLACE_TRIPLE)


def replace_trigger(record: Record, lexicon: Lexicon | None, rng: random.Random, *, backend: CachedBackend, seed: int) -> Record | None:
    """Replace Trigger by the model: one question per distinct trigger string."""
    return _replace(record, backend, seed, REPLACE_TRIGGER)


def change_context(
    record: Record, lexicon: Lexicon | None, rng: random.Random, *, backend: CachedBackend, seed: int, max_words: int = MAX_CONTEXT_WORDS
) -> Record | None:
    """Change Context by the model: up to ``max_words`` context words masked, three fillers asked
    for each, one picked at random; ``None`` when the text has no context word."""
    chosen = pick_context_words(record, rng, max_words)
    if not chosen:
        return None
    fillers, reason = parse_fillers(_ask(backend, mask_messages(record, chosen), seed), len(chosen))
    if fillers is None:
        raise UnusableResponse(reason)
    choices = [(match, rng.choice(fillers[number])) for number, match in enumerate(chosen, start=1)]
    return replace_words(record, choices, CHANGE_CONTEXT)


def extend_sentence(record: Record, lexicon: Lexicon | None, rng: random.Random, *, backend: CachedBackend, seed: int) -> Record:
    """Extend Sentence by the model: related text added before or after (side drawn by ``rng``);
    the prompt names the schema types of the record (and of ``lexicon``'s corpus, if given)."""
    side = rng.choice(SIDES)
    addition, reason = parse_extension(_ask(backend, extend_messages(record, side, _schema_types(record, lexicon)), seed), record.text)
    if addition is None:
        raise UnusableResponse(reason)
    return extend(record, addition, side, EXTEND_SENTENCE)
