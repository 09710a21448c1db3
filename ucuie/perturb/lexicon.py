"""The offline ``lexicon`` backend of the generated perturbation types.

The paper has GPT-4 write Replace, Change Context and Extend Sentence; this backend draws the
same kinds of change from a corpus instead (a training split), so the benchmark can be built
with no model at all.  :meth:`Lexicon.from_records` harvests what the generators draw from;
each generator returns a perturbed record, or ``None`` when its type cannot apply to the record.
Every draw comes from sorted lists, so a lexicon and an ``rng`` state give one output.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property

from ucuie.perturb.kinds import CHANGE_CONTEXT, EXTEND_SENTENCE, REPLACE_ENTITY, REPLACE_TRIGGER, REPLACE_TRIPLE, REPLACE_TYPE_OF_TASK
from ucuie.perturb.targets import (
    MAX_CONTEXT_WORDS,
    SIDES,
    Mention,
    PoolKey,
    annotated_spans,
    extend,
    mentions_to_replace,
    pick_context_words,
    replace_mentions,
    replace_words,
)
from ucuie.perturb.words import STOPWORDS, WORD, SurfaceForms
from ucuie.records import Record


def frequency_band(count: int) -> int:
    """``floor(log2(count))``: words seen 1, 2-3, 4-7, ... times share a band."""
    return int(math.log2(count))


@dataclass
class Lexicon:
    """Mentions, triggers, words and unlabelled sentences of a corpus.

    ``pools[kind][key]`` are the distinct strings Replace type ``kind`` may put in a span of
    pool ``key`` (:func:`~ucuie.perturb.targets.annotated_spans`): NER mentions per entity type,
    RE arguments per entity type, triggers per event type.
    """

    pools: dict[str, dict[PoolKey, tuple[str, ...]]]
    word_counts: Counter[str]
    unlabelled: tuple[str, ...]
    surface_forms: frozenset[str]
    #: Per task, every frame type and RE argument type seen (what an extension must not mention).
    schema_types: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def from_records(cls, records: Iterable[Record]) -> Lexicon:
        """Harvest a lexicon from ``records`` (typically a training split; any order gives the same)."""
        pools: dict[str, dict[PoolKey, set[str]]] = {kind: {} for kind in (REPLACE_ENTITY, REPLACE_TRIPLE, REPLACE_TRIGGER)}
        word_counts: Counter[str] = Counter()
        unlabelled: set[str] = set()
        surface_forms: set[str] = set()
        schema_types: dict[str, set[str]] = {}
        for record in records:
            word_counts.update(word.lower() for word in WORD.findall(record.text))
            if not record.frames:
                unlabelled.add(record.text)
            surface_forms.update(span.text.lower() for span in record.spans())
            types = schema_types.setdefault(record.task, set())
            for frame in record.frames:
                types.add(frame.type)
                types.update(slot.filler_type for slot in frame.slots if slot.filler_type is not None)
            kind = REPLACE_TYPE_OF_TASK.get(record.task)
            if kind is None:
                continue
            for span, key in annotated_spans(record, kind):
                if key is not None:
                    pools[kind].setdefault(key, set()).add(span.text)
        return cls(
            pools={kind: {key: tuple(sorted(texts)) for key, texts in by_key.items()} for kind, by_key in pools.items()},
            word_counts=word_counts,
            unlabelled=tuple(sorted(unlabelled)),
            surface_forms=frozenset(surface_forms),
            schema_types={task: tuple(sorted(types)) for task, types in schema_types.items()},
        )

    @cached_property
    def forms(self) -> SurfaceForms:
        """The annotated surface forms, ready to be found in a text."""
        return SurfaceForms(self.surface_forms)

    @cached_property
    def words_by_band(self) -> dict[int, tuple[str, ...]]:
        """The words Change Context may write, per frequency band: no stopword, no single letter,
        and no annotated surface form (writing "Spain" could add an unannotated entity)."""
        bands: dict[int, list[str]] = {}
        for word, count in sorted(self.word_counts.items()):
            if len(word) > 1 and word not in STOPWORDS and word not in self.surface_forms:
                bands.setdefault(frequency_band(count), []).append(word)
        return {band: tuple(words) for band, words in bands.items()}

    @cached_property
    def extension_sentences(self) -> tuple[str, ...]:
        """The unlabelled sentences that contain no annotated surface form of the corpus."""
        return tuple(text for text in self.unlabelled if self.forms.find(text) is None)

    def replacements(self, mention: Mention, kind: str) -> tuple[str, ...]:
        """The strings of every pool of ``mention`` (a string with two types needs both)."""
        pools = [set(self.pools[kind].get(key, ())) for key in mention.keys]
        return tuple(sorted(set.intersection(*pools)))

    def context_replacements(self, word: str) -> tuple[str, ...]:
        """Other words of ``word``'s frequency band; a word the corpus never saw counts as one of
        its rarest (the lowest band that has words)."""
        count = self.word_counts.get(word.lower(), 0)
        band = frequency_band(count) if count else min(self.words_by_band, default=0)
        return tuple(other for other in self.words_by_band.get(band, ()) if other != word.lower())


def inflection(text: str) -> str:
    """A crude word form of a trigger's last word (``ed``, ``ing``, ``s`` or ``other``), so that
    "fled" is replaced by "escaped" rather than by the noun "journey"."""
    last = text.split()[-1].lower() if text.split() else ""
    return next((suffix for suffix in ("ed", "ing", "s") if last.endswith(suffix)), "other")


def _replace(record: Record, lexicon: Lexicon, rng: random.Random, kind: str) -> Record | None:
    """Each distinct mention replaced by a different string of its pool, no two alike, none equal
    (case ignored) to a mention of the record; ``None`` if one of them has no candidate.  A trigger
    prefers candidates of its own :func:`inflection` when there are any."""
    mentions = mentions_to_replace(record, kind)
    if mentions is None:
        return None
    taken = {mention.text.lower() for mention in mentions}
    replacements = {}
    for mention in mentions:
        candidates = [text for text in lexicon.replacements(mention, kind) if text.lower() not in taken]
        if kind == REPLACE_TRIGGER:
            candidates = [text for text in candidates if inflection(text) == inflection(mention.text)] or candidates
        if not candidates:
            return None
        replacements[mention.text] = rng.choice(candidates)
        taken.add(replacements[mention.text].lower())
    return replace_mentions(record, replacements, mentions, kind)


def replace_entity(record: Record, lexicon: Lexicon, rng: random.Random) -> Record | None:
    """Replace Entity: every entity mention by another mention of the same entity type."""
    return _replace(record, lexicon, rng, REPLACE_ENTITY)


def replace_triple(record: Record, lexicon: Lexicon, rng: random.Random) -> Record | None:
    """Replace Triple: every subject and object by another argument of the same entity type."""
    return _replace(record, lexicon, rng, REPLACE_TRIPLE)


def replace_trigger(record: Record, lexicon: Lexicon, rng: random.Random) -> Record | None:
    """Replace Trigger: every trigger by another trigger of the same event type."""
    return _replace(record, lexicon, rng, REPLACE_TRIGGER)


def change_context(record: Record, lexicon: Lexicon, rng: random.Random, max_words: int = MAX_CONTEXT_WORDS) -> Record | None:
    """Change Context: up to ``max_words`` context words, each replaced by another word of its
    frequency band; ``None`` when no context word has one."""
    chosen = pick_context_words(record, rng, max_words, usable=lambda word: bool(lexicon.context_replacements(word)))
    if not chosen:
        return None
    choices = [(match, rng.choice(lexicon.context_replacements(match[0]))) for match in chosen]
    return replace_words(record, choices, CHANGE_CONTEXT)


def extend_sentence(record: Record, lexicon: Lexicon, rng: random.Random) -> Record | None:
    """Extend Sentence: an unlabelled corpus sentence free of annotated surface forms (the
    corpus's and the record's own) added before or after the text; ``None`` when there is none."""
    own = SurfaceForms(span.text for span in record.spans())
    candidates = [text for text in lexicon.extension_sentences if text != record.text and own.find(text) is None]
    if not candidates:
        return None
    return extend(record, rng.choice(candidates), rng.choice(SIDES), EXTEND_SENTENCE)
