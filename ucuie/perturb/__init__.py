"""RUIE-Bench perturbations (14 types over NER, RE and ED) with grounded annotations.

* :mod:`~ucuie.perturb.kinds` -- the types of each task and their display names;
* :mod:`~ucuie.perturb.edits` -- the one primitive: text edits that move every span with the text;
* :mod:`~ucuie.perturb.rules` -- Typo Injection and Lowercase;
* :mod:`~ucuie.perturb.lexicon` / :mod:`~ucuie.perturb.llm` -- the two backends of Replace,
  Change Context and Extend Sentence (a corpus lexicon, or an LLM as in the paper);
* :mod:`~ucuie.perturb.validate` -- the checks every output passes, with counted reasons;
* :mod:`~ucuie.perturb.generate` -- one type over a set of records.

See docs/perturbations.md for the exact rule of each type.
"""

from ucuie.perturb.edits import Edit, EditError, apply_edits, perturbed_id
from ucuie.perturb.generate import PerturbResult, perturb_records, record_seed
from ucuie.perturb.kinds import PERTURBATIONS, TYPE_NAMES
from ucuie.perturb.lexicon import Lexicon
from ucuie.perturb.llm import UnusableResponse
from ucuie.perturb.rules import lowercase, typo
from ucuie.perturb.validate import REASONS, check

__all__ = [
    "PERTURBATIONS",
    "REASONS",
    "TYPE_NAMES",
    "Edit",
    "EditError",
    "Lexicon",
    "PerturbResult",
    "UnusableResponse",
    "apply_edits",
    "check",
    "lowercase",
    "perturb_records",
    "perturbed_id",
    "record_seed",
    "typo",
]
