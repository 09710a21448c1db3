"""Converters on small crafted files (tests/fixtures/convert): spans, rules, problems, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from ucuie.cli import main
from ucuie.data.convert import FORMATS, ConversionError, Problem, convert, splits_available
from ucuie.data.convert.bio import entity_chunks, records_from_bio
from ucuie.data.convert.casie import article_split, sentences
from ucuie.data.convert.common import find_span
from ucuie.data.convert.ie_instructions import task_of
from ucuie.records import Frame, Slot, Span, read_records, read_schema

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "convert"
IE_INSTRUCTIONS = FIXTURES / "IE_INSTRUCTIONS"


def frames_of(record) -> list[tuple]:
    """A record's frames as plain tuples: (type, filler text, [(slot, text, start), ...])."""
    return [
        (frame.type, None if frame.filler is None else frame.filler.text, [(s.type, s.filler.text, s.filler.start) for s in frame.slots])
        for frame in record.frames
    ]


def only(problems: list[Problem], text: str) -> Problem:
    found = [problem for problem in problems if text in problem.message]
    assert len(found) == 1, [str(p) for p in problems]
    return found[0]


# ---- CoNLL BIO ----------------------------------------------------------------------------------

@given(st.lists(st.sampled_from(["O", "B-per", "I-per", "B-geo-loc", "I-geo-loc"]), max_size=12))
def test_entity_chunks_match_seqeval_default_mode(tags):
    assert entity_chunks(tags) == [(kind, first, last + 1) for kind, first, last in get_entities(tags)]


def test_records_from_bio_offsets_and_lenient_i_tags():
    [record] = records_from_bio([[("Jobs", "I-person"), ("met", "O"), ("Bill", "B-person"), ("Gates", "I-person"), ("in", "I-location")]], "toy", "test")
    assert record.text == "Jobs met Bill Gates in"
    assert record.id == "toy-test-0" and record.task == "ner"
    assert record.frames == [
        Frame("person", Span(0, 4, "Jobs")),
        Frame("person", Span(9, 19, "Bill Gates")),
        Frame("location", Span(20, 22, "in")),
    ]


def test_records_from_bio_rejects_a_non_iob2_tag():
    with pytest.raises(ValueError, match="'E-person' is not IOB2"):
        records_from_bio([[("Bob", "E-person")]], "toy", "test")


def test_conll_bio_bad_line_is_reported_and_other_sentences_kept():
    conversion = convert("conll_bio", FIXTURES / "conll_bio", "toy", "train")
    assert [str(p) for p in conversion.problems] == [
        f"{FIXTURES / 'conll_bio' / 'train.txt'}:8: tag 'X-location' is not IOB2 (O, B-type or I-type); sentence skipped"
    ]
    assert [r.id for r in conversion.records] == ["toy-train-0", "toy-train-1", "toy-train-3"]
    assert frames_of(conversion.records[2]) == [("person", "Jobs", []), ("person", "Bill Gates", [])]
    assert conversion.schema.frames == {"organisation": [], "person": []}


# ---- SpERT / CoNLL04 ------------------------------------------------------------------------------

def test_spert_bad_record_reported_with_index_and_starting_line():
    conversion = convert("spert", FIXTURES / "spert", "toy", "train")
    [problem] = conversion.problems
    assert problem.file.endswith("train_triples.json") and problem.line == 8
    assert problem.message == "record 1: a relation refers to entity 5 but the sentence has 2 entities; record skipped"
    assert [r.id for r in conversion.records] == ["toy-train-0", "toy-train-2"]
    [relation] = conversion.records[0].frames
    assert relation == Frame(
        "Work_For", None, (Slot("subject", Span(0, 10, "John Smith"), "Peop"), Slot("object", Span(21, 25, "Acme"), "Org"))
    )
    # rel2idx.json declares Kill although no record has it
    assert conversion.schema.frames == {t: ["object", "subject"] for t in ("Kill", "Live_In", "Work_For")}


def test_json_array_syntax_error_keeps_the_records_before_it(tmp_path):
    good = {"tokens": ["A", "b"], "entities": [], "relations": []}
    (tmp_path / "train_triples.json").write_text("[\n" + json.dumps(good) + ",\n" + json.dumps(good) + ",\n{\"tokens\": [}\n]\n")
    conversion = convert("spert", tmp_path, "toy", "train")
    assert len(conversion.records) == 2
    [problem] = conversion.problems
    assert problem.line == 4 and problem.message.startswith("record 2: invalid JSON")


# ---- PHEE -------------------------------------------------------------------------------------------

def test_phee_roles_discontinuous_mentions_and_bad_lines():
    conversion = convert("phee", FIXTURES / "phee", "toy", "train")
    path = str(FIXTURES / "phee" / "train.json")
    assert [str(p) for p in conversion.problems] == [
        f"{path}:2: invalid JSON (Expecting value at column 60); line skipped",
        f"{path}:3: Effect 'the headache' does not match the context at [3]; mention left out",
    ]
    first, second = conversion.records
    assert first.id == "toy-train-1_1"
    assert frames_of(first) == [
        (
            "Adverse_event",
            "developed",
            [
                ("Subject", "a 6-year-old boy", 82),
                ("Subject.Age", "6-year-old", 84),
                ("Subject.Gender", "boy", 95),
                ("Treatment", "amoxicillin and ibuprofen", 53),
                ("Treatment.Drug", "amoxicillin", 53),  # two mentions: two slots
                ("Treatment.Drug", "ibuprofen", 69),
                ("Effect", "rash and, later, fever", 7),  # "rash" + "fever": their covering span
            ],
        )
    ]  # the Severity attribute is not a role
    assert frames_of(second) == [("Potential_therapeutic_event", "relieved", [("Treatment", "Aspirin", 0), ("Treatment.Drug", "Aspirin", 0)])]


# ---- CASIE ------------------------------------------------------------------------------------------

def test_casie_sentence_splitter_keeps_offsets_and_skips_abbreviations():
    text = 'Dr. Smith of Acme Inc. said "It broke." The U.S. team (J. Doe) agreed!  Why? 42 files   were lost'
    found = [text[start:end] for start, end in sentences(text)]
    assert found == ['Dr. Smith of Acme Inc. said "It broke."', "The U.S. team (J. Doe) agreed!", "Why?", "42 files", "were lost"]


def test_casie_split_is_a_fixed_hash_of_the_article_id():
    assert [article_split(str(i)) for i in range(1, 9)] == ["train", "train", "dev", "train", "train", "train", "test", "test"]


def test_casie_offsets_sentences_and_problems():
    conversion = convert("casie", FIXTURES / "casie", "toy", "train")
    folder = FIXTURES / "casie" / "annotation"
    assert [str(p) for p in conversion.problems] == [
        f"{folder / '1.json'}: argument 'passwords' at offset 10 does not occur in the content; argument left out",
        f"{folder / '1.json'}: 2 spans have offsets that do not read their text; moved to the nearest occurrence",
        f"{folder / '2.json'}:2: invalid JSON (Expecting value); article skipped",
        f"{folder}: 1 argument(s) in 1 article(s) lie outside their trigger's sentence; left out",
    ]
    assert [r.text for r in conversion.records] == [
        "Hackers breached Acme Inc. servers on Monday.",
        "The U.S. company said customer emails were stolen.",
        "Dr. Smith found a flaw in the router.",
        "It was patched by Acme in May.",  # the stray </text> tag is gone
    ]
    assert [frames_of(r) for r in conversion.records] == [
        [("Databreach", "breached", [("Attacker", "Hackers", 0), ("Victim", "Acme Inc. servers", 17), ("Time", "Monday", 38)])],
        [("Databreach", "stolen", [("Compromised-Data", "customer emails", 22)])],  # both moved back by one character
        [("DiscoverVulnerability", "found", [("Discoverer", "Dr. Smith", 0), ("Vulnerability", "a flaw", 16)])],
        [("PatchVulnerability", "patched", [])],
    ]
    # the schema covers every readable article, whatever its split (article 3 is in dev)
    assert conversion.schema.frames["Phishing"] == ["Victim"]
    dev = convert("casie", FIXTURES / "casie", "toy", "dev")
    assert [r.id for r in dev.records] == ["toy-dev-3-0", "toy-dev-3-1"] and dev.records[1].frames == []


def test_casie_unknown_split_is_an_error():
    with pytest.raises(ConversionError, match="CASIE has no split 'validation'"):
        convert("casie", FIXTURES / "casie", "toy", "validation")


# ---- ASTE ---------------------------------------------------------------------------------------------

def test_aste_triplets_and_bad_lines():
    conversion = convert("aste", FIXTURES / "aste", "toy", "train")
    path = str(FIXTURES / "aste" / "train_triplets.txt")
    assert [str(p) for p in conversion.problems] == [
        f"{path}:2: the triplets '' are not a Python list literal; record skipped",
        f"{path}:4: opinion token indices [7, 9] are not consecutive; triplet left out",
    ]
    assert [r.id for r in conversion.records] == ["toy-train-0", "toy-train-2", "toy-train-3"]
    assert frames_of(conversion.records[0]) == [
        ("positive", None, [("aspect", "battery life", 4), ("opinion", "great", 20)]),
        ("negative", None, [("aspect", "screen", 34), ("opinion", "dim", 44)]),
    ]
    assert frames_of(conversion.records[2]) == [("negative", None, [("aspect", "fan", 4), ("opinion", "loud", 11)])]
    assert sorted(conversion.schema.frames) == ["negative", "neutral", "positive"]


# ---- IE INSTRUCTIONS ----------------------------------------------------------------------------------

def test_ie_instructions_ner_offsets_search_and_reports():
    conversion = convert("ie_instructions", IE_INSTRUCTIONS / "NER" / "toy_ner", "toy", "train")
    assert [r.task for r in conversion.records] == ["ner"] * 3
    assert frames_of(conversion.records[0]) == [("person", "Barack Obama", []), ("location", "Paris", [])]
    assert conversion.records[1].frames == []
    # Tim Cook's pos is wrong (moved), Apple's is empty (found), Google does not occur, NA is skipped
    assert conversion.records[2].frames == [Frame("person", Span(12, 20, "Tim Cook")), Frame("organization", Span(0, 5, "Apple"))]
    moved = only(conversion.problems, "moved to [12, 20]")
    assert moved.line == 7 and moved.message.startswith("record 2: person entity 'Tim Cook'")
    assert only(conversion.problems, "'Google' does not occur in the sentence; entity left out").line == 7
    assert only(conversion.problems, "missing key 'sentence'").line == 16
    assert len(conversion.problems) == 3
    assert conversion.schema.frames == {"location": [], "miscellaneous": [], "organization": [], "person": []}


def test_ie_instructions_re_drops_a_relation_whose_argument_is_missing():
    conversion = convert("ie_instructions", IE_INSTRUCTIONS / "RE" / "toy_re", "toy", "train")
    first, second = conversion.records
    assert first.frames == [
        Frame("work for", None, (Slot("subject", Span(0, 10, "John Smith"), "person"), Slot("object", Span(21, 30, "Acme Corp"), "organization"))),
        Frame("located in", None, (Slot("subject", Span(21, 30, "Acme Corp"), "organization"), Slot("object", Span(34, 40, "Boston"), "location"))),
    ]
    assert second.frames == []
    assert only(conversion.problems, "live in object 'Milan' does not occur in the sentence; relation left out").line == 10
    assert conversion.schema.frames["kill"] == ["object", "subject"]


def test_ie_instructions_ee_recovers_empty_pos_nearest_the_trigger():
    conversion = convert("ie_instructions", IE_INSTRUCTIONS / "EE" / "toy_ee", "toy", "test")
    record = conversion.records[0]
    # "town" occurs at 4 and 36; the trigger "attacked" is at 23, so the argument is the one at 36
    assert frames_of(record) == [("Conflict:Attack", "attacked", [("Attacker", "army", 18), ("Target", "town", 36)])]
    assert only(conversion.problems, "Attacker argument 'navy' does not occur in the sentence; argument left out").line == 2
    assert only(conversion.problems, "trigger 'bombing' does not occur in the sentence; event left out").line == 2
    assert len(conversion.problems) == 2
    # [event_types, roles]: every event type may take every role
    assert conversion.schema.frames == {t: ["Attacker", "Place", "Target"] for t in ("Conflict:Attack", "Justice:Arrest")}


def test_ie_instructions_eet_and_eea_layouts():
    eet = convert("ie_instructions", IE_INSTRUCTIONS / "EET" / "toy_eet", "toy", "dev")
    assert eet.problems == [] and [r.task for r in eet.records] == ["ee"]
    assert frames_of(eet.records[0]) == [("Life:Die", "died", []), ("Conflict:Attack", "attack", [])]
    assert eet.schema.frames == {"Conflict:Attack": ["Attacker", "Target"], "Life:Die": ["Victim"]}
    eea = convert("ie_instructions", IE_INSTRUCTIONS / "EEA" / "toy_eea", "toy", "train")  # a JSON-lines file
    assert eea.problems == []
    assert [frames_of(r) for r in eea.records] == [
        [("Life:Die", None, [("Victim", "Two soldiers", 0)])],  # no trigger given: a Null FrameFiller
        [("Justice:Arrest", "arrested", [("Place", "Paris", 23), ("Person", "him", 16)])],
    ]
    assert eea.schema.frames["Justice:Arrest"] == ["Agent", "Person", "Place"]


def test_ie_instructions_task_from_folder_or_caller(tmp_path):
    assert task_of(IE_INSTRUCTIONS / "EEA" / "toy_eea") == "ee"
    assert task_of(tmp_path, "RE") == "re" and task_of(tmp_path, "ner") == "ner"
    with pytest.raises(ConversionError, match="pass the task explicitly"):
        task_of(tmp_path)
    (tmp_path / "train.json").write_text("[]")
    with pytest.raises(ConversionError, match="labels.json beside their splits"):
        convert("ie_instructions", tmp_path, "toy", "train", task="ner")


# ---- shared pieces, registry and CLI -------------------------------------------------------------------

def test_find_span_prefers_whole_words_then_nearness():
    text = "within it, it said it"
    assert find_span(text, "it") == Span(7, 9, "it")  # not the "it" inside "within"
    assert find_span(text, "it", near=15) == Span(11, 13, "it")
    assert find_span(text, "wit") == Span(0, 3, "wit")  # only inside a word: still found
    assert find_span(text, "they") is None


def test_registry_formats_and_splits():
    assert FORMATS == {"conll_bio": "ner", "spert": "re", "phee": "ee", "casie": "ee", "aste": "absa", "ie_instructions": None}
    assert splits_available("ie_instructions", IE_INSTRUCTIONS / "EE" / "toy_ee") == ["test"]
    assert splits_available("casie", FIXTURES / "casie") == ["train", "dev", "test"]
    assert splits_available("spert", FIXTURES / "spert") == ["train"]
    with pytest.raises(ConversionError, match="unknown data format 'brat'"):
        convert("brat", FIXTURES, "toy", "train")
    with pytest.raises(ConversionError, match="holds absa data, not ner"):
        convert("aste", FIXTURES / "aste", "toy", "train", task="ner")
    with pytest.raises(ConversionError, match=r"dev_triplets.txt does not exist \(splits found in .*: train\)"):
        convert("aste", FIXTURES / "aste", "toy", "dev")


def test_cli_writes_records_and_schema_and_reports_problems(tmp_path, capsys):
    out, schema = tmp_path / "train.jsonl", tmp_path / "schema.json"
    argv = ["convert", "--format", "aste", "--source", str(FIXTURES / "aste"), "--dataset", "toy", "--split", "train"]
    assert main([*argv, "--out", str(out), "--schema-out", str(schema)]) == 0
    assert [r.id for r in read_records(out)] == ["toy-train-0", "toy-train-2", "toy-train-3"]
    assert read_schema(schema).frames["neutral"] == ["aspect", "opinion"]
    err = capsys.readouterr().err
    assert "train_triplets.txt:2: the triplets" in err and "3 records of toy/train written" in err


def test_cli_fails_when_no_record_can_be_read(tmp_path, capsys):
    (tmp_path / "train_triplets.txt").write_text("no separator here\n")
    out = tmp_path / "train.jsonl"
    argv = ["convert", "--format", "aste", "--source", str(tmp_path), "--dataset", "toy", "--split", "train", "--out", str(out)]
    assert main(argv) == 1
    assert not out.exists()
    assert "no record could be read" in capsys.readouterr().err
