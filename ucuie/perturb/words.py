"""Words of a text as the perturbations see them: word tokens, stopwords, context words, and
matching annotated surface forms on word boundaries.

A *word* is a whole run of letters (``\\w`` characters, no digit or underscore among them):
"Mensah's" holds the words "Mensah" and "s", "B2B" holds none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ucuie.records import Record

WORD = re.compile(r"\b[^\W\d_]+\b")
# Matching surface forms compares these tokens, so "U.S." matches "u.s." but not "US".
_TOKEN = re.compile(r"\w+|[^\w\s]")

#: Function words Change Context never masks or writes: replacing one rarely keeps the sentence
#: grammatical, and the paper perturbs the context's content words.
STOPWORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either few for from further
    had has have having he her here hers herself him himself his how i if in into is it its itself just
    may me might more most must my myself neither no nor not now of off on once only or other our ours
    ourselves out over own same shall she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up upon very was we were
    what when where which while who whom whose why will with within without would yet you your yours
    yourself yourselves s t d ll m re ve
    """.split()
)


def word_count(text: str) -> int:
    """Whitespace-separated words; typos and lowercasing never change it."""
    return len(text.split())


def tokens(text: str) -> tuple[str, ...]:
    """Lowercased word and punctuation tokens, the unit of surface-form matching."""
    return tuple(_TOKEN.findall(text.lower()))


class SurfaceForms:
    """A set of surface forms, matched case-insensitively on word boundaries (as token n-grams)."""

    def __init__(self, forms: Iterable[str]):
        self.forms = {tokens(form): form.lower() for form in forms if tokens(form)}
        self.longest = max((len(key) for key in self.forms), default=0)

    def find(self, text: str) -> str | None:
        """The first surface form (lowercased) that occurs in ``text``, or ``None``."""
        found = tokens(text)
        for start in range(len(found)):
            for size in range(1, min(self.longest, len(found) - start) + 1):
                form = self.forms.get(found[start : start + size])
                if form is not None:
                    return form
        return None


def context_words(record: Record) -> list[re.Match]:
    """The words Change Context may replace: longer than one letter, not a stopword, and not
    overlapping any annotated span."""
    spans = list(record.spans())
    return [
        match
        for match in WORD.finditer(record.text)
        if len(match[0]) > 1
        and match[0].lower() not in STOPWORDS
        and all(match.end() <= span.start or match.start() >= span.end for span in spans)
    ]


def match_case(word: str, like: str) -> str:
    """``word`` with its first letter upper-cased when ``like``'s is (sentence starts, names)."""
    if like[:1].isupper() and word[:1].islower() and len(word[:1].upper()) == 1:
        return word[:1].upper() + word[1:]
    return word
