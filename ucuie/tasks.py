"""The one place that names the tasks and maps each to the capabilities it needs (paper 3.3).

Judging decides which frame and slot types are instantiated, locating finds the spans that fill
them, associating links spans into frames.  NER needs judging and locating; RE, EE and ABSA also
need associating.  The capability-warming sub-tasks each need exactly one capability.  These are
the hard-routing labels ``[g_J, g_L, g_A]`` of the paper (Section 3.4) and the targets of L_bce.
"""

from __future__ import annotations

NER, RE, EE, ABSA = "ner", "re", "ee", "absa"
TASKS: tuple[str, ...] = (NER, RE, EE, ABSA)

JUDGING, LOCATING, ASSOCIATING = "judging", "locating", "associating"
CAPABILITIES: tuple[str, ...] = (JUDGING, LOCATING, ASSOCIATING)
#: The task field a record may carry: an IE task, or a capability sub-task (:mod:`ucuie.subtasks`).
RECORD_TASKS: tuple[str, ...] = TASKS + CAPABILITIES

#: Human-readable task names for tables and prompts.
TASK_NAMES = {NER: "NER", RE: "RE", EE: "EE", ABSA: "ABSA"}

_TASK_CAPABILITIES: dict[str, tuple[str, ...]] = {
    NER: (JUDGING, LOCATING),
    RE: (JUDGING, LOCATING, ASSOCIATING),
    EE: (JUDGING, LOCATING, ASSOCIATING),
    ABSA: (JUDGING, LOCATING, ASSOCIATING),
    JUDGING: (JUDGING,),
    LOCATING: (LOCATING,),
    ASSOCIATING: (ASSOCIATING,),
}


def capabilities_of(task: str) -> tuple[str, ...]:
    """The capabilities a task (or capability sub-task) needs."""
    try:
        return _TASK_CAPABILITIES[task]
    except KeyError:
        raise ValueError(f"unknown task {task!r}; expected one of {sorted(_TASK_CAPABILITIES)}") from None


def capability_labels(task: str) -> tuple[float, float, float]:
    """Hard routing labels ``(g_J, g_L, g_A)`` for a task, e.g. NER -> (1, 1, 0)."""
    needed = capabilities_of(task)
    return tuple(1.0 if capability in needed else 0.0 for capability in CAPABILITIES)  # type: ignore[return-value]


#: Capability letters of the paper's Tables 5-6, and the expert settings they evaluate.
CAPABILITY_LETTERS = {"J": "judging", "L": "locating", "A": "associating"}
COMBINATIONS = ("J", "L", "A", "J+L", "J+A", "L+A", "J+L+A")
#: The expert setting of the learned routing (no capability forced).
SOFT = "soft"


def capabilities_of_combination(combination: str) -> list[str]:
    """``"J+L"`` -> ``["judging", "locating"]``; an unknown letter is an error naming it."""
    letters = combination.split("+")
    if not combination or any(letter not in CAPABILITY_LETTERS for letter in letters):
        raise ValueError(f"capability combination {combination!r}: use the letters J, L, A joined by '+', e.g. J+L")
    return [CAPABILITY_LETTERS[letter] for letter in letters]
