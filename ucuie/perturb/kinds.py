"""The 14 RUIE-Bench perturbation types (RUIE-Bench, Section 3): which task gets which.

ED is the event detection of the ``ee`` task: its records keep their arguments, but ED is scored
on triggers.  The order of each tuple is the order of the paper's tables.
"""

from __future__ import annotations

from ucuie.tasks import EE, NER, RE

REPLACE_ENTITY = "replace_entity"
REPLACE_TRIPLE = "replace_triple"
REPLACE_TRIGGER = "replace_trigger"
CHANGE_CONTEXT = "change_context"
EXTEND_SENTENCE = "extend_sentence"
TYPO = "typo"
LOWERCASE = "lowercase"

PERTURBATIONS: dict[str, tuple[str, ...]] = {
    NER: (REPLACE_ENTITY, CHANGE_CONTEXT, EXTEND_SENTENCE, TYPO, LOWERCASE),
    RE: (REPLACE_TRIPLE, EXTEND_SENTENCE, TYPO, LOWERCASE),
    EE: (REPLACE_TRIGGER, CHANGE_CONTEXT, EXTEND_SENTENCE, TYPO, LOWERCASE),
}

#: Display names for tables and figures.
TYPE_NAMES: dict[str, str] = {
    REPLACE_ENTITY: "Replace Entity",
    CHANGE_CONTEXT: "Change Context",
    EXTEND_SENTENCE: "Extend Sentence",
    TYPO: "Typo Injection",
    LOWERCASE: "Lowercase",
    REPLACE_TRIPLE: "Replace Triple",
    REPLACE_TRIGGER: "Replace Trigger",
}

#: The types that replace annotated spans, and which spans: the NER mentions (frame fillers),
#: the RE triple arguments (slot fillers), the ED triggers (frame fillers).
REPLACE_TYPES = (REPLACE_ENTITY, REPLACE_TRIPLE, REPLACE_TRIGGER)
#: The types whose text the paper has an LLM write (the others are rules).
GENERATED_TYPES = REPLACE_TYPES + (CHANGE_CONTEXT, EXTEND_SENTENCE)
RULE_TYPES = (TYPO, LOWERCASE)

#: The Replace type of each task.
REPLACE_TYPE_OF_TASK: dict[str, str] = {NER: REPLACE_ENTITY, RE: REPLACE_TRIPLE, EE: REPLACE_TRIGGER}
