"""The embedded demo corpus: small seeded datasets for all four tasks, built from templates.

The lexicons and clause templates live in ``demo_corpus.yaml`` beside this module; this module
only assembles them.  One template notation serves every task (the file's header explains it):
``{lexicon}`` draws an unannotated entry, ``{lexicon:role}`` an annotated one, ``[words:role]``
annotates literal words; ``role`` is ``*`` for the frame filler or a slot type.  A text joins one
to three clauses with connectors, so texts hold several frames, one, or none (a background clause
alone).  Unannotated entries of types outside the schema are the distractors.

Generalisation, not memorisation, is what the test splits measure:

* every fourth template of each frame type (and of the background clauses) is a *test template*;
  train and dev use only the others, test only these;
* every fourth entry of a lexicon with at least eight entries is a *test-only entry*; train and
  dev never draw it, test draws from the whole lexicon;
* held-out datasets (unseen domains and types, for zero-shot evaluation) have a test split only.

Each dataset split has its own random stream, seeded by ``(seed, dataset, split)``, so the same
config always gives byte-identical files.  See docs/demo-data.md.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import yaml

from ucuie.config import ConfigError
from ucuie.records import DatasetSchema, Frame, Record, Slot, span_at, write_records, write_schema
from ucuie.tasks import ABSA, EE, NER, RE, TASKS

CORPUS_PATH = Path(__file__).with_name("demo_corpus.yaml")

#: The role of a frame filler (an NER mention, an event trigger) in templates.
FILLER_ROLE = "*"
#: One template in TEST_SHARE of each group, one entry in TEST_SHARE of a large lexicon, is test-only.
TEST_SHARE = 4
#: Smaller lexicons (weekdays, date patterns) are closed classes: all their entries appear in training.
MIN_ENTRIES_TO_HOLD_OUT = 8
#: How many frame-bearing clauses a text gets (0 makes a text with no frame).
CLAUSES_PER_TEXT_WEIGHTS = {0: 1, 1: 5, 2: 4, 3: 2}
#: Chance that a text with frames also gets a background clause (distractors, longer texts).
BACKGROUND_CLAUSE_PROBABILITY = 0.35
MAX_FRAMES_PER_TEXT = 4
#: Redraws of a lexicon entry already used in the same text, and of a text already generated.
MAX_REDRAWS = 10
MAX_TEXT_ATTEMPTS = 50

#: Slot types each frame of these tasks must fill exactly once; their frames have no filler.
_EXACT_SLOTS = {RE: ("subject", "object"), ABSA: ("aspect", "opinion")}

_PLACEHOLDER = re.compile(
    r"\{(?P<lexicon>\w+)(?::(?P<role>[\w*]+))?\}|\[(?P<literal>[^\[\]:]+):(?P<literal_role>[\w*]+)\]"
)


@dataclass(frozen=True)
class DemoConfig:
    """Seed and sizes of the demo corpus (config key ``data.demo``)."""

    seed: int = 13
    train_per_dataset: int = 300
    dev_per_dataset: int = 40
    test_per_dataset: int = 60
    zero_shot_test_size: int = 60

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if not isinstance(value, int) or isinstance(value, bool) or (field.name != "seed" and value < 0):
                kind = "an integer" if field.name == "seed" else "a non-negative integer"
                raise ConfigError(f"demo config key '{field.name}' must be {kind}, not {value!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, object] | None) -> DemoConfig:
        """Build from a config mapping (missing keys take defaults); an unknown key raises, naming it."""
        values = dict(values or {})
        known = [field.name for field in fields(cls)]
        for key in values:
            if key not in known:
                raise ConfigError(f"demo config key '{key}' is not known (known keys: {', '.join(known)}); remove it or fix its spelling")
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Placeholder:
    """A hole in a template: an entry of ``lexicon`` or the ``literal`` words, annotated as ``role``."""

    lexicon: str | None
    literal: str | None
    role: str | None


Part = str | Placeholder


def parse_template(text: str) -> tuple[Part, ...]:
    """Split a template into literal strings and :class:`Placeholder` s."""
    parts: list[Part] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        if match["lexicon"] is not None:
            parts.append(Placeholder(lexicon=match["lexicon"], literal=None, role=match["role"]))
        else:
            parts.append(Placeholder(lexicon=None, literal=match["literal"], role=match["literal_role"]))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def _annotated(parts: tuple[Part, ...]) -> list[Placeholder]:
    return [part for part in parts if isinstance(part, Placeholder) and part.role is not None]


def _is_test_only(index: int, size: int) -> bool:
    return size >= MIN_ENTRIES_TO_HOLD_OUT and index % TEST_SHARE == TEST_SHARE - 1


class Lexicons:
    """Named word lists; an entry may nest other lexicons, e.g. ``"{first_name} {last_name}"``."""

    def __init__(self, entries: Mapping[str, list[str]]):
        self.entries: dict[str, tuple[str, ...]] = {name: tuple(str(e) for e in values) for name, values in entries.items()}
        self._parsed = {name: tuple(parse_template(e) for e in values) for name, values in self.entries.items()}
        for name, options in self._parsed.items():
            for parts in options:
                for part in parts:
                    if isinstance(part, Placeholder) and (part.lexicon not in self.entries or part.role is not None):
                        raise ValueError(f"lexicon {name!r}: nested placeholder {part} must name a known lexicon and have no role")
        for name in self.entries:
            self._check_acyclic(name, ())

    def _check_acyclic(self, name: str, path: tuple[str, ...]) -> None:
        if name in path:
            raise ValueError(f"lexicons nest in a cycle: {' -> '.join(path + (name,))}")
        for parts in self._parsed[name]:
            for part in parts:
                if isinstance(part, Placeholder):
                    self._check_acyclic(part.lexicon, path + (name,))  # type: ignore[arg-type]

    def training_entries(self, name: str) -> tuple[str, ...]:
        """The entries train and dev may draw (all but the test-only ones)."""
        values = self.entries[name]
        return tuple(e for i, e in enumerate(values) if not _is_test_only(i, len(values)))

    def subtypes(self, name: str) -> list[str]:
        """``name`` and every lexicon that is a whole alternative of it (``location: ["{city}", ...]``)."""
        found = [name]
        for parts in self._parsed[name]:
            if len(parts) == 1 and isinstance(parts[0], Placeholder):
                found.extend(t for t in self.subtypes(parts[0].lexicon) if t not in found)  # type: ignore[arg-type]
        return found

    def draw(self, name: str, rng: random.Random, with_test_entries: bool) -> str:
        """A random entry of ``name`` with nested lexicons filled in."""
        options = self._parsed[name]
        if not with_test_entries:
            options = tuple(o for i, o in enumerate(options) if not _is_test_only(i, len(options)))
        parts = rng.choice(options)
        return "".join(p if isinstance(p, str) else self.draw(p.lexicon, rng, with_test_entries) for p in parts)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Template:
    """One clause template of a dataset; ``for_test`` puts it in the test template set."""

    id: str
    frame: str | None
    parts: tuple[Part, ...]
    for_test: bool

    def frame_count(self) -> int:
        """How many frames a text of this clause holds (NER: one per mention)."""
        if self.frame is not None:
            return 1
        return len(_annotated(self.parts))


@dataclass(frozen=True)
class DemoDatasetDefinition:
    """One dataset of the corpus file: its task, domain, schema and clause templates."""

    name: str
    task: str
    domain: str
    held_out: bool
    schema: dict[str, tuple[str, ...]]
    templates: tuple[Template, ...]


@dataclass(frozen=True)
class DemoCorpus:
    """Everything in ``demo_corpus.yaml``, parsed and checked."""

    lexicons: Lexicons
    connectors: tuple[str, ...]
    datasets: tuple[DemoDatasetDefinition, ...]


@dataclass
class DemoDataset:
    """One generated dataset; ``template_ids[split][i]`` are the templates of record ``i``."""

    name: str
    task: str
    domain: str
    held_out: bool
    schema: DatasetSchema
    splits: dict[str, list[Record]]
    template_ids: dict[str, list[tuple[str, ...]]]


def _check_template(template: Template, task: str, schema: dict[str, tuple[str, ...]], lexicons: Lexicons) -> None:
    """Raise ValueError unless the template can only produce frames that fit the dataset's schema."""
    placeholders = [p for p in template.parts if isinstance(p, Placeholder)]
    for part in placeholders:
        if part.lexicon is not None and part.lexicon not in lexicons.entries:
            raise ValueError(f"unknown lexicon {part.lexicon!r}")
    annotated = _annotated(template.parts)
    if template.frame is None:
        if task != NER and annotated:
            raise ValueError(f"a {task} clause with annotated spans needs a 'frame'")
        for part in annotated:
            if part.role != FILLER_ROLE or part.lexicon not in schema:
                raise ValueError(f"NER mentions are written {{type:*}} with a type of the schema, not {part}")
        # An unannotated entity of a schema type would be a missing annotation, not a distractor.
        schema_types = {t for frame_type in schema for t in lexicons.subtypes(frame_type)} if task == NER else set()
        for part in placeholders:
            if part.role is None and part.lexicon in schema_types:
                raise ValueError(f"unannotated {{{part.lexicon}}} is an entity type of the schema")
        return
    if task == NER:
        raise ValueError("NER clauses are strings; a 'frame' key is for the other tasks")
    if template.frame not in schema:
        raise ValueError(f"frame {template.frame!r} is not in the schema {sorted(schema)}")
    fillers = [p for p in annotated if p.role == FILLER_ROLE]
    roles = [p.role for p in annotated if p.role != FILLER_ROLE]
    if task in _EXACT_SLOTS and (fillers or sorted(roles) != sorted(_EXACT_SLOTS[task])):
        raise ValueError(f"a {task} frame fills exactly the slots {_EXACT_SLOTS[task]} and has no filler")
    if task == EE and len(fillers) != 1:
        raise ValueError("an event clause needs exactly one trigger [words:*] or {lexicon:*}")
    for role in roles:
        if role not in schema[template.frame]:
            raise ValueError(f"role {role!r} is not a slot of {template.frame!r} {list(schema[template.frame])}")
    if task == RE and any(p.lexicon is None for p in annotated):
        raise ValueError("RE subjects and objects come from lexicons (their entity type), not [literal] words")


def _parse_dataset(name: str, spec: dict, lexicons: Lexicons) -> DemoDatasetDefinition:
    task = spec["task"]
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}")
    held_out = bool(spec["held_out"])
    schema = {str(frame): tuple(slots) for frame, slots in spec["schema"].items()}
    templates = []
    position_in_group: dict[str, int] = {}
    for index, clause in enumerate(spec["clauses"]):
        frame, text = (clause["frame"], clause["text"]) if isinstance(clause, dict) else (None, clause)
        parts = parse_template(text)
        # Templates are split per group (each frame type; NER mentions; background) so every
        # frame type has templates on both sides of the train/test split.
        group = frame if frame is not None else ("mentions" if _annotated(parts) else "background")
        position = position_in_group.get(group, 0)
        position_in_group[group] = position + 1
        template = Template(
            id=f"{name}/{index}",
            frame=frame,
            parts=parts,
            for_test=held_out or position % TEST_SHARE == TEST_SHARE - 1,
        )
        try:
            _check_template(template, task, schema, lexicons)
        except ValueError as exc:
            raise ValueError(f"clause {index} ({text!r}): {exc}") from None
        templates.append(template)
    return DemoDatasetDefinition(name, task, str(spec["domain"]), held_out, schema, tuple(templates))


def load_corpus(path: str | Path = CORPUS_PATH) -> DemoCorpus:
    """Read and check the lexicons and dataset templates of the demo corpus."""
    path = Path(path)
    raw = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    lexicons = Lexicons(raw["lexicons"])
    datasets = []
    for name, spec in raw["datasets"].items():
        try:
            datasets.append(_parse_dataset(name, spec, lexicons))
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{path}: dataset {name!r}: {exc}") from None
    return DemoCorpus(lexicons=lexicons, connectors=tuple(raw["connectors"]), datasets=tuple(datasets))


def demo_dataset_names(path: str | Path = CORPUS_PATH) -> list[str]:
    """The names of the demo corpus's datasets, in file order (what config format 'demo' may name)."""
    return [definition.name for definition in load_corpus(path).datasets]


def _capitalise(text: str) -> str:
    first = text[:1].upper()
    return first + text[1:] if len(first) == 1 else text


def _render(
    template: Template, lexicons: Lexicons, rng: random.Random, with_test_entries: bool, used: set[str]
) -> tuple[str, list[tuple[int, int, Placeholder]]]:
    """Fill a template; return its text and the (start, end, placeholder) of each annotated span."""
    text = ""
    marks = []
    for part in template.parts:
        if isinstance(part, str):
            text += part
            continue
        if part.literal is not None:
            value = part.literal
        else:
            # Distinct entries within a text, so "X met X" does not happen.
            for _ in range(MAX_REDRAWS):
                value = lexicons.draw(part.lexicon, rng, with_test_entries)  # type: ignore[arg-type]
                if value not in used:
                    break
            used.add(value)
        if part.role is not None:
            marks.append((len(text), len(text) + len(value), part))
        text += value
    return text, marks


def _clause_frames(
    template: Template, marks: list[tuple[int, int, Placeholder]], offset: int, text: str, definition: DemoDatasetDefinition
) -> list[Frame]:
    """The frames of one rendered clause that starts at ``offset`` in the final ``text``."""
    spans = [(span_at(text, offset + start, offset + end), part) for start, end, part in marks]
    if template.frame is None:
        return [Frame(type=part.lexicon, filler=span) for span, part in spans]  # type: ignore[arg-type]
    filler = next((span for span, part in spans if part.role == FILLER_ROLE), None)
    slots = [
        Slot(type=part.role, filler=span, filler_type=part.lexicon if definition.task == RE else None)  # type: ignore[arg-type]
        for span, part in spans
        if part.role != FILLER_ROLE
    ]
    roles = definition.schema[template.frame]
    slots.sort(key=lambda slot: (roles.index(slot.type), slot.filler.start))
    return [Frame(type=template.frame, filler=filler, slots=tuple(slots))]


def _frame_position(frame: Frame) -> tuple[int, int, str]:
    spans = ([frame.filler] if frame.filler is not None else []) + [slot.filler for slot in frame.slots]
    start, end = min((span.start, span.end) for span in spans)
    return start, end, frame.type


def _compose(
    definition: DemoDatasetDefinition, corpus: DemoCorpus, rng: random.Random, for_test: bool
) -> tuple[str, list[Frame], tuple[str, ...]]:
    """One text: its frames (sorted by position) and the ids of the templates it was built from."""
    usable = [t for t in definition.templates if t.for_test == for_test]
    with_frames = [t for t in usable if t.frame_count() > 0]
    background = [t for t in usable if t.frame_count() == 0]
    (clause_count,) = rng.choices(list(CLAUSES_PER_TEXT_WEIGHTS), weights=list(CLAUSES_PER_TEXT_WEIGHTS.values()))
    chosen: list[Template] = []
    for _ in range(clause_count):
        template = rng.choice(with_frames)
        if chosen and sum(t.frame_count() for t in chosen) + template.frame_count() > MAX_FRAMES_PER_TEXT:
            break
        chosen.append(template)
    if not chosen or rng.random() < BACKGROUND_CLAUSE_PROBABILITY:
        chosen.insert(rng.randrange(len(chosen) + 1), rng.choice(background))

    used: set[str] = set()
    pieces: list[tuple[int, Template, list]] = []
    text = ""
    for index, template in enumerate(chosen):
        clause, marks = _render(template, corpus.lexicons, rng, for_test, used)
        if index == 0:
            clause = _capitalise(clause)
        else:
            connector = rng.choice(corpus.connectors)
            text += connector
            if connector.endswith(". "):
                clause = _capitalise(clause)
        pieces.append((len(text), template, marks))
        text += clause
    text += "."
    frames = [frame for offset, template, marks in pieces for frame in _clause_frames(template, marks, offset, text, definition)]
    frames.sort(key=_frame_position)
    return text, frames, tuple(t.id for t in chosen)


def _generate_split(
    definition: DemoDatasetDefinition, corpus: DemoCorpus, split: str, size: int, seed: int, seen: set[str]
) -> tuple[list[Record], list[tuple[str, ...]]]:
    rng = random.Random(f"{seed}/{definition.name}/{split}")
    records, template_ids = [], []
    for index in range(size):
        for _ in range(MAX_TEXT_ATTEMPTS):
            text, frames, ids = _compose(definition, corpus, rng, for_test=split == "test")
            if text not in seen:
                break
        seen.add(text)
        records.append(Record(f"{definition.name}-{split}-{index}", text, definition.task, definition.name, split, frames))
        template_ids.append(ids)
    return records, template_ids


def generate_demo(config: DemoConfig, corpus: DemoCorpus | None = None) -> list[DemoDataset]:
    """Generate every dataset of the demo corpus (held-out ones with a test split only)."""
    corpus = corpus if corpus is not None else load_corpus()
    datasets = []
    for definition in corpus.datasets:
        if definition.held_out:
            sizes = {"test": config.zero_shot_test_size}
        else:
            sizes = {"train": config.train_per_dataset, "dev": config.dev_per_dataset, "test": config.test_per_dataset}
        seen: set[str] = set()  # no text twice in a dataset, across its splits
        splits, template_ids = {}, {}
        for split, size in sizes.items():
            splits[split], template_ids[split] = _generate_split(definition, corpus, split, size, config.seed, seen)
        schema = DatasetSchema(definition.name, definition.task, {frame: list(slots) for frame, slots in definition.schema.items()})
        datasets.append(
            DemoDataset(definition.name, definition.task, definition.domain, definition.held_out, schema, splits, template_ids)
        )
    return datasets


def write_demo(config: DemoConfig, out_dir: str | Path) -> list[Path]:
    """Write ``{out_dir}/{dataset}/schema.json`` and ``{out_dir}/{dataset}/{split}.jsonl``; return the paths."""
    out_dir = Path(out_dir)
    written = []
    for dataset in generate_demo(config):
        schema_path = out_dir / dataset.name / "schema.json"
        write_schema(schema_path, dataset.schema)
        written.append(schema_path)
        for split, records in dataset.splits.items():
            split_path = out_dir / dataset.name / f"{split}.jsonl"
            write_records(split_path, records)
            written.append(split_path)
    return written
