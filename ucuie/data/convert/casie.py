"""CASIE (cybersecurity events, one JSON file per article) as sentence-level EE records.

``annotation/*.json`` each hold an article's ``content`` and ``cyberevent.hopper[].events[]``:
every event mention has a ``nugget`` (the trigger), a ``type``, a ``subtype`` and ``argument[]``
with ``role.type``, all with ``startOffset``/``endOffset`` into ``content``.

Rules (see docs/data.md):

* Event type: the ``subtype`` (``Databreach``, ``Phishing``, ``Ransom``, ``DiscoverVulnerability``,
  ``PatchVulnerability``), which names the event more precisely than ``type`` (``Attack``,
  ``Vulnerability-related``); the role is ``role.type``.  ``realis`` and hopper coreference are
  not converted.
* Offsets: a span whose offsets do not read its ``text`` is moved to the occurrence of its text
  nearest the given start (whole words first), reported once per article; a span whose text does
  not occur is reported and left out (an event without its trigger is left out whole).
* Sentences: :func:`sentences` splits each article; every sentence becomes a record (sentences
  without events too).  An event belongs to its trigger's sentence; arguments outside it are left
  out and reported in one aggregate problem.
* Split: :func:`article_split` assigns each article by a hash of its id (file name without
  ``.json``): buckets 0-7 of 10 train, 8 dev, 9 test.
* Schema: the event types and roles of all articles, so every split shares one schema.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import re
from pathlib import Path

from ucuie.data.convert.common import Conversion, ConversionError, Problem, checked_span, describe, find_span
from ucuie.records import DatasetSchema, Frame, Record, Slot, Span
from ucuie.tasks import EE

TASK = EE
FOLDER = "annotation"
SPLITS = ("train", "dev", "test")
#: A trailing tag left over from the source HTML in a few articles; removed before splitting.
_STRAY_END_TAG = re.compile(r"\s*</text>\s*$")
#: Sentence-final punctuation (with closing quotes or brackets) before whitespace and a capital,
#: digit or opening quote; or a run of three or more whitespace characters (flattened paragraphs).
_BOUNDARY = re.compile(r"""(?P<final>[.!?]+["'”’)\]]*)\s+(?=["'“‘(\[]?[A-Z0-9])|\s{3,}""")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof inc ltd corp co jr sr st vs no gov sen rep gen jan feb mar apr jun jul aug sep sept oct nov dec".split()
)
_DOTTED_ACRONYM = re.compile(r"(?:[a-z]\.)+[a-z]")


def article_split(article_id: str) -> str:
    """The split of an article: bucket ``sha256(id) mod 10`` 0-7 is train, 8 dev, 9 test."""
    bucket = int(hashlib.sha256(article_id.encode("utf-8")).hexdigest(), 16) % 10
    return "train" if bucket < 8 else "dev" if bucket == 8 else "test"


def sentences(text: str) -> list[tuple[int, int]]:
    """The ``(start, end)`` offsets of the sentences of ``text``, without surrounding whitespace.

    A sentence ends at ``.``, ``!`` or ``?`` (with any closing quotes or brackets) followed by
    whitespace and a capital letter, digit or opening quote, unless the word before a single
    ``.`` is an abbreviation (``Mr``, ``Inc``, ``Jan`` ...), a single letter or a dotted acronym
    (``U.S``, ``e.g``); a run of three or more whitespace characters also ends a sentence.
    """
    cuts = [0]
    for match in _BOUNDARY.finditer(text):
        if match["final"] is not None and _is_abbreviation(text[: match.start()], match["final"]):
            continue
        cuts.append(match.end())
    cuts.append(len(text))
    found = []
    for start, end in zip(cuts, cuts[1:]):
        piece = text[start:end]
        if piece.strip():
            found.append((start + len(piece) - len(piece.lstrip()), start + len(piece.rstrip())))
    return found


def _is_abbreviation(before: str, final: str) -> bool:
    if final != ".":
        return False
    word = before.rsplit(maxsplit=1)[-1].lstrip("\"'“‘([").lower() if before.strip() else ""
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()) or _DOTTED_ACRONYM.fullmatch(word) is not None


def splits_available(source: Path) -> list[str]:
    """All three splits when ``source/annotation`` exists, else none."""
    return list(SPLITS) if (source / FOLDER).is_dir() else []


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Convert the articles of ``split`` sentence by sentence; the schema covers all articles."""
    folder = source / FOLDER
    if not folder.is_dir():
        raise ConversionError(f"{folder} does not exist; a CASIE source folder holds annotation/*.json")
    if split not in SPLITS:
        raise ConversionError(f"CASIE has no split {split!r}; its articles are split into {', '.join(SPLITS)}")
    problems: list[Problem] = []
    records: list[Record] = []
    frames: dict[str, set[str]] = {}
    outside: dict[str, int] = {}  # article -> arguments outside their trigger's sentence
    for path in sorted(folder.glob("*.json")):
        try:
            article = json.loads(path.read_text(encoding="utf-8"))
            events = [event for hopper in article["cyberevent"]["hopper"] for event in hopper["events"]]
            for event in events:
                roles = (str(argument["role"]["type"]) for argument in event.get("argument", []))
                frames.setdefault(str(event["subtype"]), set()).update(roles)
            if article_split(path.stem) != split:
                continue
            found, notes, outside[path.stem] = _article_records(path.stem, str(article["content"]), events, dataset, split)
        except json.JSONDecodeError as exc:
            problems.append(Problem(str(path), exc.lineno, f"invalid JSON ({exc.msg}); article skipped"))
            continue
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            problems.append(Problem(str(path), None, f"{describe(exc)}; article skipped"))
            continue
        records.extend(found)
        problems.extend(Problem(str(path), None, note) for note in notes)
    if sum(outside.values()):
        articles = sum(1 for count in outside.values() if count)
        message = f"{sum(outside.values())} argument(s) in {articles} article(s) lie outside their trigger's sentence; left out"
        problems.append(Problem(str(folder), None, message))
    schema = DatasetSchema(dataset=dataset, task=EE, frames={frame: sorted(roles) for frame, roles in sorted(frames.items())})
    return Conversion(records=records, schema=schema, problems=problems)


def _article_records(article_id: str, content: str, events: list[dict], dataset: str, split: str) -> tuple[list[Record], list[str], int]:
    """One record per sentence, notes on spans moved or left out, and the count of arguments outside."""
    text = _STRAY_END_TAG.sub("", content)
    bounds = sentences(text)
    starts = [start for start, _ in bounds]
    sentence_frames: list[list[Frame]] = [[] for _ in bounds]
    notes: list[str] = []
    moved = outside = 0

    def locate(item: dict, what: str, dropped: str) -> Span | None:
        nonlocal moved
        start, expected = int(item["startOffset"]), str(item["text"])
        span = checked_span(text, start, int(item["endOffset"]), expected)
        if span is None:
            span = find_span(text, expected, near=start)
            if span is None:
                notes.append(f"{what} {expected!r} at offset {start} does not occur in the content; {dropped} left out")
            else:
                moved += 1
        return span

    for event in events:
        trigger = locate(event["nugget"], "trigger", "event")
        if trigger is None:
            continue
        k = bisect.bisect_right(starts, trigger.start) - 1
        if k < 0 or trigger.end > bounds[k][1]:
            notes.append(f"trigger {trigger.text!r} at offset {trigger.start} crosses a sentence boundary; event left out")
            continue
        offset, end = bounds[k]
        slots = []
        for argument in event.get("argument", []):
            span = locate(argument, "argument", "argument")
            if span is not None and offset <= span.start and span.end <= end:
                slots.append(Slot(str(argument["role"]["type"]), _shift(span, offset)))
            elif span is not None:
                outside += 1
        sentence_frames[k].append(Frame(type=str(event["subtype"]), filler=_shift(trigger, offset), slots=tuple(slots)))
    if moved:
        notes.append(f"{moved} spans have offsets that do not read their text; moved to the nearest occurrence")
    records = [
        Record(id=f"{dataset}-{split}-{article_id}-{k}", text=text[start:end], task=EE, dataset=dataset, split=split, frames=found)
        for k, ((start, end), found) in enumerate(zip(bounds, sentence_frames))
    ]
    for record in records:
        record.validate()
    return records, notes, outside


def _shift(span: Span, offset: int) -> Span:
    """``span`` re-based to a sentence starting at ``offset``."""
    return Span(start=span.start - offset, end=span.end - offset, text=span.text)
