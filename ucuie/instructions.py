"""Hand-written base instructions, one pool per task and per capability sub-task.

Every instruction ends with the task's *format statement*: the output notation written out
verbatim (paper Section 3.2).  Paraphrasing rewrites the wording before it; a paraphrase that
loses the format statement is filtered out (see :mod:`ucuie.paraphrase`), so every instruction a
model sees tells it exactly what to write.
"""

from __future__ import annotations

from ucuie.tasks import ABSA, ASSOCIATING, EE, JUDGING, LOCATING, NER, RE

#: The output notation of each task, as it appears in instructions.
FORMAT_STATEMENTS: dict[str, str] = {
    NER: "{(entity type: entity mention): []}",
    RE: "{(relation type: Null): [(subject: subject mention), (object: object mention)]}",
    EE: "{(event type: trigger): [(role: argument), ...]}",
    ABSA: "{(polarity: Null): [(aspect: aspect term), (opinion: opinion term)]}",
    JUDGING: "{(frame type: Null): [(slot type: Null), ...]}",
    LOCATING: "{(type: span): [], ...}",
    ASSOCIATING: "{(frame type: frame filler): [(slot type: slot filler), ...]}",
}

_FORMAT_LEAD = "Answer in the format"

_BASE: dict[str, list[str]] = {
    NER: [
        "Please list all entity words in the text that fit the types in the schema.",
        "Identify every named entity in the text whose type is listed in the schema, and give its type.",
        "Find the mentions of the schema's entity types in the text.",
        "Extract each entity mentioned in the text that belongs to one of the given entity types.",
    ],
    RE: [
        "Given a text, detect the subject and object entities that are connected via a relation from the schema.",
        "Identify the subject and object pairs in the text that are involved in any of the schema's relation types.",
        "Extract the relation triples stated in the text, using only the relation types in the schema.",
    ],
    EE: [
        "Extract the trigger word and arguments for each event of the schema's types mentioned in the text.",
        "For every event described in the text, find its type, its trigger and the arguments filling its roles.",
        "Detect the events of the listed types in the text and extract their triggers and role arguments.",
    ],
    ABSA: [
        "Extract the aspect terms, the opinion terms describing them and the sentiment polarity of each pair.",
        "Find every aspect mentioned in the review, the opinion words about it and whether the sentiment is positive, negative or neutral.",
        "Identify aspect-opinion pairs in the text and label each pair with its sentiment polarity.",
    ],
    JUDGING: [
        "Decide which frame types of the schema occur in the text and which of their slot types are filled, without extracting spans.",
        "Judge which of the schema's types are expressed in the text, and which slot types each of them needs.",
        "List the frame types present in the text and the slot types that are instantiated, with no text spans.",
    ],
    LOCATING: [
        "Locate the text spans that fill the frame types and slot types of the schema, each with its type.",
        "Find every span of the text that realises a frame or a slot of the schema, and give its type.",
        "Mark the words in the text that fill any type of the schema.",
    ],
    ASSOCIATING: [
        "The typed spans of the text are given; link them into complete frames with their slots.",
        "Group the given typed spans into frames, attaching each slot filler to the frame it belongs to.",
        "Associate the listed spans with each other to form the frames expressed by the text.",
    ],
}


def format_statement(task: str) -> str:
    """The sentence that tells the model the output notation of ``task``."""
    return f"{_FORMAT_LEAD} {FORMAT_STATEMENTS[task]}."


def base_descriptions(task: str) -> list[str]:
    """The hand-written task descriptions of ``task``, without the format statement."""
    if task not in _BASE:
        raise ValueError(f"no base instructions for task {task!r}; known: {sorted(_BASE)}")
    return list(_BASE[task])


def with_format_statement(description: str, task: str) -> str:
    """A full instruction: the description followed by the task's format statement."""
    return f"{description} {format_statement(task)}"


def base_instructions(task: str) -> list[str]:
    """The hand-written instructions of ``task``, each ending with its format statement."""
    return [with_format_statement(text, task) for text in base_descriptions(task)]


def instruction_tasks() -> list[str]:
    """Tasks and capability sub-tasks that have instruction pools."""
    return list(_BASE)
