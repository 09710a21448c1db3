"""ASTE-Data-V2 (aspect sentiment triplets, e.g. 14lap) as ABSA records.

Each line of ``{split}_triplets.txt`` is ``sentence####[([aspect token indices], [opinion token
indices], 'POS'|'NEG'|'NEU'), ...]`` with 0-based indices into the space-split sentence.  The text
is the tokens joined by single spaces (the published sentences already are).  Each triplet becomes
a frame typed by its polarity (``positive``, ``negative``, ``neutral``) with an *aspect* and an
*opinion* slot.  A triplet whose indices are not consecutive is reported and left out.
"""

from __future__ import annotations

import ast
from pathlib import Path

from ucuie.data.convert.common import Conversion, Entry, Problem, TokenText, convert_entries, dataset_schema, split_file
from ucuie.records import Frame, Record, Slot, Span
from ucuie.tasks import ABSA

TASK = ABSA
FILE = "{split}_triplets.txt"
SEPARATOR = "####"
POLARITIES = {"POS": "positive", "NEG": "negative", "NEU": "neutral"}
SLOTS = ["aspect", "opinion"]


def convert(source: Path, dataset: str, split: str, task: str | None = None) -> Conversion:
    """Read ``source/{split}_triplets.txt``; a malformed line is reported and skipped."""
    path = split_file(source, FILE, split)
    problems: list[Problem] = []

    def build(entry: Entry, notes: list[str]) -> Record:
        sentence, separator, triplets = str(entry.value).rstrip("\n").partition(SEPARATOR)
        if not separator:
            raise ValueError(f"no {SEPARATOR!r} between the sentence and its triplets")
        text = TokenText(sentence.split())
        frames = []
        for aspect, opinion, polarity in _literal(triplets):
            if polarity not in POLARITIES:
                raise ValueError(f"polarity {polarity!r} is not one of {sorted(POLARITIES)}")
            spans = [_token_span(text, indices, name, notes) for name, indices in zip(SLOTS, (aspect, opinion))]
            if None not in spans:
                frames.append(Frame(type=POLARITIES[polarity], slots=tuple(Slot(name, span) for name, span in zip(SLOTS, spans))))
        return Record(id=f"{dataset}-{split}-{entry.index}", text=text.text, task=ABSA, dataset=dataset, split=split, frames=frames)

    with path.open(encoding="utf-8") as lines:
        entries = [Entry(line=lineno, index=lineno - 1, value=line) for lineno, line in enumerate(lines, start=1) if line.strip()]
    records = convert_entries(path, entries, build, problems)
    known = {polarity: SLOTS for polarity in POLARITIES.values()}
    return Conversion(records=records, schema=dataset_schema(dataset, ABSA, records, known), problems=problems)


def _literal(triplets: str) -> list:
    try:
        return ast.literal_eval(triplets.strip())
    except (SyntaxError, ValueError) as exc:
        raise ValueError(f"the triplets {triplets.strip()[:60]!r} are not a Python list literal") from exc


def _token_span(text: TokenText, indices: list[int], name: str, notes: list[str]) -> Span | None:
    if list(indices) != list(range(indices[0], indices[0] + len(indices))):
        notes.append(f"{name} token indices {list(indices)} are not consecutive; triplet left out")
        return None
    return text.span(indices[0], indices[-1] + 1)
