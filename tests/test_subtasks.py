"""Capability sub-task data (D_J, D_L, D_A): exact targets per task, schemas, hints, scoring, instances."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ucuie.backbone import load_backbone
from ucuie.evaluation import evaluate_predictions
from ucuie.grounding import ground
from ucuie.linearize import linearize, parse
from ucuie.paraphrase import build_pool
from ucuie.prompts import Instance, encode_prompt, task_instruction, text_part
from ucuie.records import DatasetSchema, Frame, Record, RecordError, Slot, Span
from ucuie.scoring import score
from ucuie.subtasks import associating_hint, build_subtask_instances, subtask_records, subtask_schema


def at(text: str, piece: str, occurrence: int = 0) -> Span:
    """The ``occurrence``-th (0-based) span of ``piece`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    return Span(start, start + len(piece), piece)


def make(task: str, text: str, frames: list[Frame], record_id: str = "r1") -> Record:
    record = Record(id=record_id, text=text, task=task, dataset=f"toy_{task}", split="test", frames=frames)
    record.validate()
    return record


NER_TEXT = "Barack Obama met Angela Merkel in Berlin."
NER = make("ner", NER_TEXT, [
    Frame("person", at(NER_TEXT, "Barack Obama")),
    Frame("person", at(NER_TEXT, "Angela Merkel")),
    Frame("location", at(NER_TEXT, "Berlin")),
])

RE_TEXT = "Alice founded Acme and leads Acme Labs."
RE = make("re", RE_TEXT, [
    Frame("founder_of", None, (Slot("subject", at(RE_TEXT, "Alice"), "per"), Slot("object", at(RE_TEXT, "Acme"), "org"))),
    Frame("works_for", None, (Slot("subject", at(RE_TEXT, "Alice"), "per"), Slot("object", at(RE_TEXT, "Acme Labs"), "org"))),
])

EE_TEXT = "At dawn rebels attacked the town and troops shelled the bridge; two civilians died."
EE = make("ee", EE_TEXT, [
    Frame("Attack", at(EE_TEXT, "attacked"), (
        Slot("attacker", at(EE_TEXT, "rebels")), Slot("target", at(EE_TEXT, "town")), Slot("time", at(EE_TEXT, "dawn")),
    )),
    Frame("Attack", at(EE_TEXT, "shelled"), (Slot("attacker", at(EE_TEXT, "troops")), Slot("target", at(EE_TEXT, "bridge")))),
    Frame("Die", at(EE_TEXT, "died"), (Slot("victim", at(EE_TEXT, "two civilians")), Slot("time", at(EE_TEXT, "dawn")))),
])

ABSA_TEXT = "The battery life is great, the screen is dim and the keyboard is great too."
ABSA = make("absa", ABSA_TEXT, [
    Frame("positive", None, (Slot("aspect", at(ABSA_TEXT, "battery life")), Slot("opinion", at(ABSA_TEXT, "great")))),
    Frame("negative", None, (Slot("aspect", at(ABSA_TEXT, "screen")), Slot("opinion", at(ABSA_TEXT, "dim")))),
    Frame("positive", None, (Slot("aspect", at(ABSA_TEXT, "keyboard")), Slot("opinion", at(ABSA_TEXT, "great", 1)))),
])

SCHEMAS = {
    "ner": DatasetSchema("toy_ner", "ner", {"location": [], "organisation": [], "person": []}),
    "re": DatasetSchema("toy_re", "re", {"founder_of": ["subject", "object"], "works_for": ["subject", "object"]}),
    "ee": DatasetSchema("toy_ee", "ee", {"Attack": ["attacker", "target", "time"], "Die": ["victim", "time", "place"]}),
    "absa": DatasetSchema("toy_absa", "absa", {"negative": ["aspect", "opinion"], "neutral": ["aspect", "opinion"], "positive": ["aspect", "opinion"]}),
}

# The source target, and the expected sub-task targets, written out by hand.
EXPECTED = {
    "ner": (NER, {
        "judging": "{(person: Null): [], (location: Null): []}",
        "locating": "{(person: Barack Obama): [], (person: Angela Merkel): [], (location: Berlin): []}",
    }),
    "re": (RE, {
        "judging": "{(founder_of: Null): [(subject: Null), (object: Null)], (works_for: Null): [(subject: Null), (object: Null)]}",
        "locating": "{(subject: Alice): [], (object: Acme): [], (object: Acme Labs): []}",
        "associating": "{(founder_of: Null): [(subject: Alice), (object: Acme)], (works_for: Null): [(subject: Alice), (object: Acme Labs)]}",
    }),
    "ee": (EE, {
        "judging": "{(Attack: Null): [(attacker: Null), (target: Null), (time: Null)], (Die: Null): [(victim: Null), (time: Null)]}",
        "locating": (
            "{(time: dawn): [], (attacker: rebels): [], (Attack: attacked): [], (target: town): [], (attacker: troops): [], "
            "(Attack: shelled): [], (target: bridge): [], (victim: two civilians): [], (Die: died): []}"
        ),
        "associating": (
            "{(Attack: attacked): [(attacker: rebels), (target: town), (time: dawn)], (Attack: shelled): [(attacker: troops), "
            "(target: bridge)], (Die: died): [(victim: two civilians), (time: dawn)]}"
        ),
    }),
    "absa": (ABSA, {
        "judging": "{(positive: Null): [(aspect: Null), (opinion: Null)], (negative: Null): [(aspect: Null), (opinion: Null)]}",
        "locating": (
            "{(aspect: battery life): [], (opinion: great): [], (aspect: screen): [], (opinion: dim): [], "
            "(aspect: keyboard): [], (opinion: great): []}"
        ),
        "associating": (
            "{(positive: Null): [(aspect: battery life), (opinion: great)], (negative: Null): [(aspect: screen), "
            "(opinion: dim)], (positive: Null): [(aspect: keyboard), (opinion: great)]}"
        ),
    }),
}
CASES = [(task, capability) for task, (_, targets) in EXPECTED.items() for capability in targets]


def sub(record: Record, capability: str) -> Record:
    (derived,) = subtask_records([record], capability)
    return derived


def pools() -> dict[str, list[str]]:
    """The instruction pools as ``pool.json`` holds them (base instructions only)."""
    return build_pool(None, n=0, seed=0).instructions


@pytest.mark.parametrize("task,capability", CASES)
def test_subtask_targets_per_task(task, capability):
    source, targets = EXPECTED[task]
    derived = sub(source, capability)
    assert linearize(derived.frames) == targets[capability]
    assert (derived.id, derived.task, derived.dataset, derived.split, derived.text) == (
        f"r1#{capability}", capability, f"toy_{task}", "test", source.text
    )
    derived.validate()  # a sub-task record is a valid record of its own task


def test_associating_target_is_the_source_target():
    for task in ("re", "ee", "absa"):
        source = EXPECTED[task][0]
        assert sub(source, "associating").frames == source.frames


def test_associating_hint_gives_frame_types_and_typed_spans():
    assert associating_hint(RE.frames) == "Frame types: founder_of, works_for\nSpans: (subject: Alice), (object: Acme), (object: Acme Labs)"
    assert associating_hint(ABSA.frames) == (
        "Frame types: positive, negative\n"
        "Spans: (aspect: battery life), (opinion: great), (aspect: screen), (opinion: dim), (aspect: keyboard), (opinion: great)"
    )
    # Fillers are quoted by the output notation's rule.
    text = "Paid 5,000 dollars."
    frames = [Frame("Pay", at(text, "Paid"), (Slot("money", at(text, "5,000 dollars")),))]
    assert associating_hint(frames) == 'Frame types: Pay\nSpans: (Pay: Paid), (money: "5,000 dollars")'


def test_a_record_without_frames_is_judged_and_located_empty_but_not_associated():
    empty = make("ee", "Nothing happened.", [], record_id="e")
    assert linearize(sub(empty, "judging").frames) == "{}"
    assert linearize(sub(empty, "locating").frames) == "{}"
    assert subtask_records([empty, EE], "associating") == [sub(EE, "associating")]


def test_one_span_with_two_types_is_located_once_per_type_in_source_order():
    text = "Alice met Bob."
    alice, bob = at(text, "Alice"), at(text, "Bob")
    record = make("re", text, [
        Frame("knows", None, (Slot("subject", alice), Slot("object", bob))),
        Frame("knows", None, (Slot("subject", bob), Slot("object", alice))),
    ])
    assert linearize(sub(record, "locating").frames) == "{(subject: Alice): [], (object: Alice): [], (object: Bob): [], (subject: Bob): []}"
    assert linearize(sub(record, "judging").frames) == "{(knows: Null): [(subject: Null), (object: Null)]}"


def test_ner_has_no_associating_subtask_and_bad_capabilities_are_refused():
    with pytest.raises(ValueError, match=r"record 'r1': task 'ner' has no associating sub-task; it needs only judging, locating"):
        subtask_records([NER], "associating")
    with pytest.raises(ValueError, match=r"unknown capability 'linking'"):
        subtask_records([RE], "linking")
    with pytest.raises(ValueError, match=r"task 'judging' is not an IE task"):
        subtask_records([sub(RE, "judging")], "locating")
    with pytest.raises(ValueError, match=r"schema of dataset 'toy_ner': task 'ner' has no associating"):
        subtask_schema(SCHEMAS["ner"], "associating")


def test_subtask_schemas():
    for task, schema in SCHEMAS.items():
        judging = subtask_schema(schema, "judging")
        assert (judging.task, judging.dataset, judging.frames) == ("judging", schema.dataset, schema.frames)
    assert subtask_schema(SCHEMAS["re"], "associating").frames == SCHEMAS["re"].frames
    # Locating lists the types a span can have: frame types only where frames have a filler.
    assert subtask_schema(SCHEMAS["ner"], "locating").frames == {"location": [], "organisation": [], "person": []}
    assert subtask_schema(SCHEMAS["re"], "locating").frames == {"subject": [], "object": []}
    assert subtask_schema(SCHEMAS["absa"], "locating").frames == {"aspect": [], "opinion": []}
    assert list(subtask_schema(SCHEMAS["ee"], "locating").frames) == ["Attack", "Die", "attacker", "target", "time", "victim", "place"]


def test_judging_records_survive_json_and_validation_guards_null_slots():
    judged = sub(EE, "judging")
    assert Record.from_json(judged.to_json()) == judged
    assert judged.to_json()["frames"][0]["slots"][0] == {"type": "attacker", "filler": None}
    with pytest.raises(RecordError, match=r"record 'r1': slot 'subject' of frame 'works_for' has no filler"):
        replace(RE, frames=[Frame("works_for", None, (Slot("subject", None),))]).validate()
    with pytest.raises(RecordError, match=r"record 'x#judging': slot 'time' of frame 'Die' has a filler"):
        replace(EE, id="x#judging", task="judging", frames=[Frame("Die", None, (Slot("time", at(EE_TEXT, "dawn")),))]).validate()
    with pytest.raises(RecordError, match=r"judging frame 'Die' has a filler"):
        replace(judged, frames=[Frame("Die", at(EE_TEXT, "died"))]).validate()
    with pytest.raises(RecordError, match=r"unknown task 'judge'"):
        replace(judged, task="judge").validate()


@pytest.mark.parametrize("task,capability", CASES)
def test_targets_round_trip_through_parse_and_grounding(task, capability):
    derived = sub(EXPECTED[task][0], capability)
    parsed = parse(linearize(derived.frames))
    grounded = ground(parsed.frames, derived.text)
    assert (parsed.errors, grounded.ungrounded) == (0, 0)
    # Grounding loses only filler_type, which the output notation does not carry.
    assert grounded.frames == [
        replace(f, slots=tuple(replace(s, filler_type=None) for s in f.slots)) for f in derived.frames
    ]


def wrong_output(capability: str, record: Record) -> str:
    """A plausible wrong answer: a frame type (judging) or a span (locating) mistyped, two arguments swapped."""
    frames = list(record.frames)
    if capability in ("judging", "locating"):
        frames[0] = replace(frames[0], type="wrong")
    else:
        first, second = frames[0].slots[0], frames[0].slots[1]
        frames[0] = replace(frames[0], slots=(replace(first, filler=second.filler), replace(second, filler=first.filler)) + frames[0].slots[2:])
    return linearize(frames)


@pytest.mark.parametrize("task,capability", CASES)
def test_perfect_prediction_scores_one_and_a_wrong_one_less(task, capability):
    gold = [sub(EXPECTED[task][0], capability), *subtask_records([make(task, "Nothing here.", [], record_id="n")], capability)]
    perfect = evaluate_predictions(gold, [{"id": r.id, "output": linearize(r.frames)} for r in gold])
    (row,) = perfect["scores"]
    assert (row["task"], row["metric"], row["offset"]["fp"], row["offset"]["fn"]) == (capability, capability, 0, 0)
    assert row["offset"]["tp"] > 0
    wrong = evaluate_predictions(gold, [{"id": gold[0].id, "output": wrong_output(capability, gold[0])}])
    counts = wrong["scores"][0]["offset"]
    assert counts["fp"] + counts["fn"] > 0 and counts["tp"] < row["offset"]["tp"]
    # The scorer itself, given frames: the gold frames score F1 = 1.
    assert score(gold, {r.id: r.frames for r in gold}).get(gold[0].dataset, capability).offset.f1 == 1.0


def test_judging_ignores_spans_and_locating_ignores_links():
    # A judging answer that writes spans is scored on its types alone.
    judged = sub(RE, "judging")
    result = evaluate_predictions([judged], [{"id": judged.id, "output": linearize(RE.frames)}])
    assert result["scores"][0]["offset"] == {"tp": 6, "fp": 0, "fn": 0}  # 2 frame types + 4 (type, slot type) pairs
    # A slot type left out is missed: Die has victim and time.
    judged = sub(EE, "judging")
    missing = "{(Attack: Null): [(attacker: Null), (target: Null), (time: Null)], (Die: Null): [(victim: Null)]}"
    result = evaluate_predictions([judged], [{"id": judged.id, "output": missing}])
    assert result["scores"][0]["offset"] == {"tp": 6, "fp": 0, "fn": 1}
    # Locating: the same typed spans in another order are the same answer.
    located = sub(EE, "locating")
    shuffled = linearize(list(reversed(located.frames)))
    result = evaluate_predictions([located], [{"id": located.id, "output": shuffled}])
    assert result["scores"][0]["offset"] == {"tp": 9, "fp": 0, "fn": 0}


def instances(capability: str, seed: int, records: list[Record] | None = None, task: str = "ee") -> list[Instance]:
    return build_subtask_instances(records or [EE], SCHEMAS[task], pools(), seed, capability)


def many_ee_records(n: int) -> list[Record]:
    return [replace(EE, id=f"ee-{i}") for i in range(n)]


@pytest.mark.parametrize("capability", ["judging", "locating", "associating"])
def test_instances_are_deterministic_and_drawn_from_the_capability_pool(capability):
    records = many_ee_records(40)
    first = instances(capability, 7, records)
    assert [i.to_json() for i in first] == [i.to_json() for i in instances(capability, 7, records)]
    assert [i.id for i in first] == [f"ee-{n}#{capability}" for n in range(40)]
    pool = pools()[capability]
    assert {i.instruction for i in first} == set(pool)  # 40 seeded draws from 3 instructions use them all
    assert [i.instruction for i in instances(capability, 8, records)] != [i.instruction for i in first]
    # Per-record seeding: the choice does not depend on which other records are in the split.
    assert instances(capability, 7, records[5:6])[0].instruction == first[5].instruction
    instance = first[0]
    assert (instance.task, instance.dataset, instance.text) == (capability, "toy_ee", EE_TEXT)
    assert instance.target == EXPECTED["ee"][1][capability]
    assert instance.schema == {
        "judging": "{Attack: [attacker, target, time], Die: [victim, time, place]}",
        "locating": "{Attack: [], Die: [], attacker: [], target: [], time: [], victim: [], place: []}",
        "associating": "{Attack: [attacker, target, time], Die: [victim, time, place]}",
    }[capability]
    assert instance.hint == (associating_hint(EE.frames) if capability == "associating" else "")


def test_the_hint_is_rendered_after_the_text():
    (instance,) = instances("associating", 0, [RE], task="re")
    assert text_part(instance) == (
        f"Text: {RE_TEXT}\nFrame types: founder_of, works_for\nSpans: (subject: Alice), (object: Acme), (object: Acme Labs)\nAnswer:"
    )
    (judging,) = instances("judging", 0, [RE], task="re")
    assert text_part(judging) == f"Text: {RE_TEXT}\nAnswer:"


def test_old_instance_json_without_hint_still_loads():
    old = {"id": "a", "dataset": "d", "task": "ner", "instruction": "Find.", "schema": "{person: []}", "text": "Bob.", "target": "{}"}
    instance = Instance.from_json(old)
    assert instance.hint == ""
    assert text_part(instance) == "Text: Bob.\nAnswer:"
    (associating,) = instances("associating", 0)
    assert Instance.from_json(associating.to_json()) == associating
    with pytest.raises(KeyError, match="target"):
        Instance.from_json({k: v for k, v in old.items() if k != "target"})


def test_building_instances_refuses_a_missing_pool_or_a_foreign_record():
    with pytest.raises(ValueError, match=r"instruction pools have no entry 'locating'"):
        build_subtask_instances([EE], SCHEMAS["ee"], {"ee": ["x {(type: span): [], ...}"]}, 0, "locating")
    with pytest.raises(ValueError, match=r"record 'r1' has task 're', but the schema of dataset 'toy_ee' is for 'ee'"):
        build_subtask_instances([RE], SCHEMAS["ee"], pools(), 0, "locating")
    with pytest.raises(ValueError, match=r"task 'ner' has no associating sub-task"):
        build_subtask_instances([NER], SCHEMAS["ner"], pools(), 0, "associating")


def test_the_hint_is_input_not_instruction(tiny_backbone):
    _, tokenizer = load_backbone(tiny_backbone)
    (instance,) = instances("associating", 0)
    encoded = encode_prompt(tokenizer, instance)
    masked = [t for t, m in zip(encoded.input_ids, encoded.instruction_mask) if m]
    unmasked = [t for t, m in zip(encoded.input_ids, encoded.instruction_mask) if not m]
    assert tokenizer.decode(masked) == task_instruction(instance)
    assert tokenizer.decode(unmasked) == text_part(instance)
    assert "Spans: (time: dawn)" in tokenizer.decode(unmasked)
