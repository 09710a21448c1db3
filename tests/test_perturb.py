"""RUIE-Bench perturbations: edits that keep spans grounded, the rule types, both backends of the
generated types, the validators, and running a type over a set of records."""

from __future__ import annotations

import random
import re
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ucuie.perturb import (
    PERTURBATIONS,
    TYPE_NAMES,
    Edit,
    EditError,
    Lexicon,
    UnusableResponse,
    apply_edits,
    check,
    lowercase,
    perturb_records,
    typo,
)
from ucuie.perturb import lexicon as lexicon_backend
from ucuie.perturb import llm as llm_backend
from ucuie.perturb.lexicon import frequency_band
from ucuie.perturb.rules import KEYBOARD_NEIGHBOURS, misspell
from ucuie.perturb.words import STOPWORDS, WORD, SurfaceForms
from ucuie.records import Frame, Record, Slot, Span, span_at


def at(text: str, piece: str, occurrence: int = 0) -> Span:
    """The ``occurrence``-th (0-based) span of ``piece`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    return Span(start, start + len(piece), piece)


def ner(text: str, mentions: list[tuple[str, str, int]], record_id: str = "ner-1") -> Record:
    """An NER record; ``mentions`` are (type, mention, occurrence)."""
    record = Record(record_id, text, "ner", "toy_ner", "test", [Frame(t, at(text, m, k)) for t, m, k in mentions])
    record.validate()
    return record


def relation(text: str, triples: list[tuple[str, str, str, str, str]], record_id: str = "re-1") -> Record:
    """An RE record; ``triples`` are (relation, subject, subject type, object, object type)."""
    frames = [
        Frame(rel, None, (Slot("subject", at(text, subj), subj_type), Slot("object", at(text, obj), obj_type)))
        for rel, subj, subj_type, obj, obj_type in triples
    ]
    record = Record(record_id, text, "re", "toy_re", "test", frames)
    record.validate()
    return record


def event(text: str, events: list[tuple[str, str, list[tuple[str, str]]]], record_id: str = "ee-1") -> Record:
    """An EE record; ``events`` are (event type, trigger, [(role, argument)])."""
    frames = [Frame(etype, at(text, trig), tuple(Slot(role, at(text, arg)) for role, arg in args)) for etype, trig, args in events]
    record = Record(record_id, text, "ee", "toy_ee", "test", frames)
    record.validate()
    return record


MERKEL = ner(
    "Yesterday Angela Merkel visited Strasbourg and Copenhagen.",
    [("person", "Angela Merkel", 0), ("location", "Strasbourg", 0), ("location", "Copenhagen", 0)],
)
FOUNDERS = relation(
    "Obsidian Partners, founded by Jin Mensah, owns Lumina Group.",
    [
        ("founder_of", "Jin Mensah", "person", "Obsidian Partners", "company"),
        ("subsidiary_of", "Lumina Group", "company", "Obsidian Partners", "company"),
    ],
)
TAKEOVER = event(
    "Umbra Laboratories acquired Novaterra Logistics in September.",
    [("acquisition", "acquired", [("acquirer", "Umbra Laboratories"), ("acquired", "Novaterra Logistics"), ("time", "September")])],
)


def texts(record: Record) -> list[str]:
    return [span.text for span in record.spans()]


# --- the types ---------------------------------------------------------------------------------


def test_fourteen_types_in_the_papers_order():
    assert PERTURBATIONS == {
        "ner": ("replace_entity", "change_context", "extend_sentence", "typo", "lowercase"),
        "re": ("replace_triple", "extend_sentence", "typo", "lowercase"),
        "ee": ("replace_trigger", "change_context", "extend_sentence", "typo", "lowercase"),
    }
    assert sum(map(len, PERTURBATIONS.values())) == 14
    assert {kind for kinds in PERTURBATIONS.values() for kind in kinds} == set(TYPE_NAMES)
    assert TYPE_NAMES["typo"] == "Typo Injection" and TYPE_NAMES["replace_triple"] == "Replace Triple"


# --- apply_edits -------------------------------------------------------------------------------


def test_edit_before_spans_shifts_them():
    out = apply_edits(MERKEL, [Edit(0, 9, "Today")], "x")
    assert out.text == "Today Angela Merkel visited Strasbourg and Copenhagen."
    assert [(s.start, s.text) for s in out.spans()] == [(6, "Angela Merkel"), (28, "Strasbourg"), (43, "Copenhagen")]
    assert out.id == "x" and (out.task, out.dataset, out.split) == ("ner", "toy_ner", "test")
    assert MERKEL.text.startswith("Yesterday")  # the input is not changed


def test_edit_of_a_whole_span_becomes_the_span():
    span = MERKEL.frames[1].filler
    out = apply_edits(MERKEL, [Edit(span.start, span.end, "Lyon")], "x")
    assert texts(out) == ["Angela Merkel", "Lyon", "Copenhagen"]
    assert out.frames[2].filler == Span(41, 51, "Copenhagen")  # 10 letters became 4


def test_edit_inside_a_span_changes_its_text_and_end():
    merkel = MERKEL.frames[0].filler
    out = apply_edits(MERKEL, [Edit(merkel.end - 3, merkel.end - 1, "kl")], "x")  # "Merkel" -> "Merkll"
    assert texts(out)[0] == "Angela Merkll"
    out = apply_edits(MERKEL, [Edit(merkel.start + 1, merkel.start + 2, "")], "x")
    assert out.frames[0].filler == Span(10, 22, "Agela Merkel") and out.frames[1].filler.start == 31


def test_partial_overlap_raises_naming_the_record_and_ranges():
    with pytest.raises(EditError, match=r"record 'ner-1'.*\[24, 35\).*'Strasbourg' \[32, 42\)"):
        apply_edits(MERKEL, [Edit(24, 35, "went to Paris")], "x")


def test_overlapping_edits_raise():
    with pytest.raises(EditError, match=r"ner-1.*\[0, 5\) and \[3, 9\) overlap"):
        apply_edits(MERKEL, [Edit(3, 9, "a"), Edit(0, 5, "b")], "x")
    with pytest.raises(EditError, match="overlap"):  # two insertions at one place have no order
        apply_edits(MERKEL, [Edit(4, 4, "a"), Edit(4, 4, "b")], "x")
    with pytest.raises(EditError, match="outside the text"):
        apply_edits(MERKEL, [Edit(50, 99, "")], "x")


def test_insertions_at_span_boundaries_go_outside_it():
    span = MERKEL.frames[1].filler  # Strasbourg
    out = apply_edits(MERKEL, [Edit(span.start, span.start, "old "), Edit(span.end, span.end, " town")], "x")
    assert out.text == "Yesterday Angela Merkel visited old Strasbourg town and Copenhagen."
    assert out.frames[1].filler == Span(36, 46, "Strasbourg")
    inside = apply_edits(MERKEL, [Edit(span.start + 6, span.start + 6, "-")], "x")
    assert inside.frames[1].filler.text == "Strasb-ourg"


def test_deleting_a_span_raises():
    span = MERKEL.frames[2].filler
    with pytest.raises(EditError, match="delete span 'Copenhagen'"):
        apply_edits(MERKEL, [Edit(span.start, span.end, "")], "x")


def test_frames_slots_and_types_keep_their_order():
    subject = FOUNDERS.frames[0].slots[0].filler
    out = apply_edits(FOUNDERS, [Edit(subject.start, subject.end, "Ada Obi"), Edit(0, 0, "Then ")], "x")
    assert [f.type for f in out.frames] == ["founder_of", "subsidiary_of"]
    assert [(s.type, s.filler_type, s.filler.text) for f in out.frames for s in f.slots] == [
        ("subject", "person", "Ada Obi"),
        ("object", "company", "Obsidian Partners"),
        ("subject", "company", "Lumina Group"),
        ("object", "company", "Obsidian Partners"),
    ]


def _cuts(edit: Edit, span: Span) -> bool:
    """Does ``edit`` cut through ``span``'s boundary?  (An insertion never does.)"""
    overlaps = edit.start < span.end and span.start < edit.end
    return overlaps and not (span.start <= edit.start and edit.end <= span.end)


@st.composite
def record_and_edits(draw):
    text = draw(st.text(alphabet="ab .", min_size=1, max_size=25))
    starts = draw(st.lists(st.integers(0, len(text) - 1), max_size=4))
    spans = [span_at(text, s, min(len(text), s + draw(st.integers(1, 6)))) for s in starts]
    record = Record("r", text, "ner", "d", "test", [Frame("t", span) for span in spans])
    points = sorted(draw(st.lists(st.integers(0, len(text)), unique=True, max_size=8)))
    edits = []
    for start, end in zip(points[::2], points[1::2]):
        end = start if draw(st.booleans()) else end  # some are insertions
        edits.append(Edit(start, end, draw(st.text(alphabet="xyZ", min_size=1, max_size=4))))
    return record, edits


@settings(max_examples=300, deadline=None)
@given(record_and_edits())
def test_apply_edits_grounds_every_span_or_refuses(case):
    record, edits = case
    if any(_cuts(edit, span) for edit in edits for span in record.spans()):
        with pytest.raises(EditError, match="partially overlaps"):
            apply_edits(record, edits, "out")
        return
    out = apply_edits(record, edits, "out")
    out.validate()
    for old, new in zip(record.spans(), out.spans()):
        if not any(edit.start < old.end and old.start < edit.end or old.start < edit.start < old.end for edit in edits):
            assert new.text == old.text  # no edit touched it
    # One edit at a time, right to left, gives the same record as all at once.
    stepwise = apply_edits(record, [], "out")
    for edit in sorted(edits, reverse=True):
        stepwise = apply_edits(stepwise, [edit], "out")
    assert stepwise == out


# --- typo and lowercase ------------------------------------------------------------------------


def test_typo_exact_output_for_a_fixed_seed():
    out = typo(MERKEL, random.Random(0))
    # 4 eligible words (Yesterday, visited, Strasbourg, Copenhagen): ceil(0.25 * 4) = 1 typo.
    assert out.text == "Yesterday Angela Merkel visited Strasbourg and Ckpenhagen."
    assert out.id == "ner-1~typo"
    assert [(f.type, f.filler) for f in out.frames] == [
        ("person", Span(10, 23, "Angela Merkel")),
        ("location", Span(32, 42, "Strasbourg")),
        ("location", Span(47, 57, "Ckpenhagen")),
    ]


def test_typo_changes_only_eligible_words_keeping_first_and_last_letters():
    for seed in range(30):
        out = typo(TAKEOVER, random.Random(seed), rate=1.0)
        old_words, new_words = TAKEOVER.text.split(), out.text.split()
        assert len(old_words) == len(new_words)
        for old, new in zip(old_words, new_words):
            old, new = old.strip("."), new.strip(".")
            if len(old) > 6 and old.isalpha():
                assert new != old and new[0] == old[0] and new[-1] == old[-1]
            else:
                assert new == old  # "Umbra", "in"
        out.validate()
        assert [(f.type, [(s.type, s.filler_type) for s in f.slots]) for f in out.frames] == [
            ("acquisition", [("acquirer", None), ("acquired", None), ("time", None)])
        ]
        assert check(TAKEOVER, out, "typo") == []


def test_typo_inside_an_re_argument_moves_the_spans():
    out = typo(FOUNDERS, random.Random(3), rate=1.0)  # Obsidian, Partners, founded are eligible
    assert out.frames[0].slots[1].filler.text == out.frames[1].slots[1].filler.text != "Obsidian Partners"
    assert out.frames[0].slots[0].filler.text == "Jin Mensah" and out.frames[0].slots[0].filler_type == "person"
    assert check(FOUNDERS, out, "typo") == []


def test_typo_is_seeded():
    outputs = {typo(MERKEL, random.Random(seed)).text for seed in range(20)}
    assert len(outputs) > 5
    assert typo(MERKEL, random.Random(7)) == typo(MERKEL, random.Random(7))


def test_misspell_makes_each_kind_of_typo():
    kinds = set()
    for seed in range(200):
        new = misspell("strawberry", random.Random(seed))
        assert new != "strawberry" and new[0] == "s" and new[-1] == "y"
        if len(new) == 9:
            kinds.add("delete")
        elif len(new) == 11:
            kinds.add("duplicate")
        elif sorted(new) == sorted("strawberry"):
            kinds.add("swap")
        else:
            (i,) = [i for i, (a, b) in enumerate(zip(new, "strawberry")) if a != b]
            assert new[i] in KEYBOARD_NEIGHBOURS["strawberry"[i]]
            kinds.add("neighbour")
    assert kinds == {"delete", "duplicate", "swap", "neighbour"}
    assert KEYBOARD_NEIGHBOURS["a"] == "sqwz" and KEYBOARD_NEIGHBOURS["m"] == "njk"


def test_typo_not_applicable():
    assert typo(ner("Tom met Ann in Rome.", [("person", "Tom", 0)]), random.Random(0)) is None
    # "Copenhagen" straddles the span "Copen": a typo there would cut the annotation.
    assert typo(ner("Copenhagen is cold.", [("location", "Copen", 0)]), random.Random(0)) is None


def test_lowercase_keeps_the_first_character_and_offsets():
    out = lowercase(ner("Angela Merkel visited PARIS.", [("person", "Angela Merkel", 0), ("location", "PARIS", 0)]))
    assert out.text == "Angela merkel visited paris."
    assert [(s.start, s.end, s.text) for s in out.spans()] == [(0, 13, "Angela merkel"), (22, 27, "paris")]
    assert out.id == "ner-1~lowercase"
    assert lowercase(TAKEOVER).text == "Umbra laboratories acquired novaterra logistics in september."
    assert check(TAKEOVER, lowercase(TAKEOVER), "lowercase") == []


def test_lowercase_leaves_characters_whose_lowercase_is_longer():
    record = ner("Visit İZMIR today.", [("location", "İZMIR", 0)])
    out = lowercase(record)
    assert out.text == "Visit İzmir today." and len(out.text) == len(record.text)
    assert out.frames[0].filler == Span(6, 11, "İzmir")


def test_lowercase_not_applicable():
    assert lowercase(ner("Already lower, see.", [])) is None
    assert lowercase(ner("A", [])) is None


# --- the lexicon backend -----------------------------------------------------------------------


def ner_corpus() -> list[Record]:
    return [
        ner("Angela Merkel visited Paris.", [("person", "Angela Merkel", 0), ("location", "Paris", 0)], "t1"),
        ner("Emmanuel Macron met Olaf Scholz in Berlin.", [("person", "Emmanuel Macron", 0), ("person", "Olaf Scholz", 0), ("location", "Berlin", 0)], "t2"),
        ner("Rome is old and Lisbon is older.", [("location", "Rome", 0), ("location", "Lisbon", 0)], "t3"),
        ner("The weather stayed mild today.", [], "t4"),
        ner("Paris was rainy today.", [], "t5"),  # unlabelled, but holds a surface form
        ner("The council voted today and the weather stayed calm.", [], "t6"),
    ]


def test_lexicon_harvests_pools_words_and_sentences():
    lexicon = Lexicon.from_records(ner_corpus() + [FOUNDERS, TAKEOVER])
    assert lexicon.pools["replace_entity"] == {
        "person": ("Angela Merkel", "Emmanuel Macron", "Olaf Scholz"),
        "location": ("Berlin", "Lisbon", "Paris", "Rome"),
    }
    assert lexicon.pools["replace_triple"] == {"person": ("Jin Mensah",), "company": ("Lumina Group", "Obsidian Partners")}
    assert lexicon.pools["replace_trigger"] == {"acquisition": ("acquired",)}
    assert lexicon.word_counts["today"] == 3 and lexicon.word_counts["paris"] == 2
    assert lexicon.unlabelled == (
        "Paris was rainy today.",
        "The council voted today and the weather stayed calm.",
        "The weather stayed mild today.",
    )
    assert lexicon.extension_sentences == lexicon.unlabelled[1:]
    assert {"angela merkel", "acquired", "september", "obsidian partners"} <= lexicon.surface_forms
    assert lexicon.schema_types["re"] == ("company", "founder_of", "person", "subsidiary_of")
    assert Lexicon.from_records(reversed(ner_corpus())) == Lexicon.from_records(ner_corpus())


def test_frequency_bands_and_context_candidates():
    assert [frequency_band(c) for c in (1, 2, 3, 4, 7, 8)] == [0, 1, 1, 2, 2, 3]
    lexicon = Lexicon.from_records(ner_corpus())
    # "weather", "stayed" (twice) and "today" (3 times) share band 1; stopwords and surface forms
    # ("paris") are never written.
    assert lexicon.context_replacements("weather") == ("stayed", "today")
    assert "the" not in lexicon.words_by_band[1] and "paris" not in lexicon.words_by_band[1]
    # An unseen word counts as one of the rarest (band 0).
    assert lexicon.context_replacements("zeppelin") == lexicon.words_by_band[0]


def test_replace_entity_same_type_and_consistent():
    lexicon = Lexicon.from_records(ner_corpus())
    record = ner(
        "Angela Merkel praised Paris, and Paris praised Angela Merkel.",
        [("person", "Angela Merkel", 0), ("location", "Paris", 0), ("location", "Paris", 1), ("person", "Angela Merkel", 1)],
    )
    outputs = set()
    for seed in range(10):
        out = lexicon_backend.replace_entity(record, lexicon, random.Random(seed))
        person, place = out.frames[0].filler.text, out.frames[1].filler.text
        assert person in {"Emmanuel Macron", "Olaf Scholz"} and place in {"Berlin", "Lisbon", "Rome"}
        assert texts(out) == [person, place, place, person]
        assert out.text == f"{person} praised {place}, and {place} praised {person}."
        assert out.id == "ner-1~replace_entity" and check(record, out, "replace_entity") == []
        outputs.add(out.text)
    assert len(outputs) > 1


def test_replace_entity_not_applicable():
    lexicon = Lexicon.from_records(ner_corpus())
    nested = ner("The University of Paris opened.", [("organisation", "University of Paris", 0), ("location", "Paris", 0)])
    assert lexicon_backend.replace_entity(nested, lexicon, random.Random(0)) is None
    unknown_type = ner("Kyoto hosted Expo 70.", [("location", "Kyoto", 0), ("event", "Expo 70", 0)])
    assert lexicon_backend.replace_entity(unknown_type, lexicon, random.Random(0)) is None
    assert lexicon_backend.replace_entity(ner("Nothing here.", []), lexicon, random.Random(0)) is None


def test_replace_triple_replaces_a_shared_argument_once():
    corpus = [
        FOUNDERS,
        relation("Zenith Labs was founded by Ada Obi.", [("founder_of", "Ada Obi", "person", "Zenith Labs", "company")], "t2"),
        relation("Kestrel Group owns Helix.", [("subsidiary_of", "Helix", "company", "Kestrel Group", "company")], "t3"),
    ]
    lexicon = Lexicon.from_records(corpus)
    out = lexicon_backend.replace_triple(FOUNDERS, lexicon, random.Random(0))
    (subject, shared), (company, shared_again) = [[s.filler.text for s in f.slots] for f in out.frames]
    assert subject == "Ada Obi" and shared == shared_again and out.frames[0].slots[1].filler == out.frames[1].slots[1].filler
    assert {shared, company} <= {"Zenith Labs", "Kestrel Group", "Helix"} and shared != company
    assert check(FOUNDERS, out, "replace_triple") == []


def test_replace_triple_without_filler_types_uses_relation_and_slot():
    untyped = [replace(r, frames=[replace(f, slots=tuple(replace(s, filler_type=None) for s in f.slots)) for f in r.frames]) for r in [FOUNDERS]]
    other = relation("Ada Obi started Zenith Labs.", [("founder_of", "Ada Obi", None, "Zenith Labs", None)], "t2")
    lexicon = Lexicon.from_records(untyped + [other])
    assert lexicon.pools["replace_triple"][("founder_of", "subject")] == ("Ada Obi", "Jin Mensah")
    record = relation("Ada Obi started Zenith Labs.", [("founder_of", "Ada Obi", None, "Zenith Labs", None)])
    out = lexicon_backend.replace_triple(record, lexicon, random.Random(0))
    assert out.text == "Jin Mensah started Obsidian Partners."


def test_replace_trigger_keeps_the_arguments():
    lexicon = Lexicon.from_records(
        [TAKEOVER, event("Kestrel bought Helix.", [("acquisition", "bought", [("acquirer", "Kestrel")])], "t2")]
    )
    out = lexicon_backend.replace_trigger(TAKEOVER, lexicon, random.Random(0))
    assert out.text == "Umbra Laboratories bought Novaterra Logistics in September."
    assert texts(out) == ["bought", "Umbra Laboratories", "Novaterra Logistics", "September"]
    assert check(TAKEOVER, out, "replace_trigger") == []
    # A trigger inside an argument cannot be replaced without altering the argument.
    inside = event("The buyout by Kestrel ended.", [("acquisition", "buyout", [("acquirer", "The buyout by Kestrel")])])
    assert lexicon_backend.replace_trigger(inside, lexicon, random.Random(0)) is None


def _changed_words(old: str, new: str) -> list[tuple[str, str]]:
    assert WORD.split(old) == WORD.split(new)  # only whole words changed
    return [(a, b) for a, b in zip(WORD.findall(old), WORD.findall(new)) if a != b]


def test_change_context_touches_only_context_words():
    lexicon = Lexicon.from_records(ner_corpus())
    record = ner(
        "Yesterday the council voted and Angela Merkel visited the weather station in Paris today.",
        [("person", "Angela Merkel", 0), ("location", "Paris", 0)],
    )
    for seed in range(20):
        out = lexicon_backend.change_context(record, lexicon, random.Random(seed))
        assert texts(out) == texts(record) and check(record, out, "change_context") == []
        changed = _changed_words(record.text, out.text)
        assert 1 <= len(changed) <= 4
        for old, new in changed:
            assert old.lower() not in STOPWORDS and old not in ("Angela", "Merkel", "Paris")
            assert new.lower() in lexicon.context_replacements(old) and new[0].isupper() == old[0].isupper()


def test_change_context_not_applicable():
    lexicon = Lexicon.from_records(ner_corpus())
    assert lexicon_backend.change_context(ner("Angela Merkel, Paris.", [("person", "Angela Merkel", 0), ("location", "Paris", 0)]), lexicon, random.Random(0)) is None


def test_extend_sentence_adds_a_sentence_free_of_surface_forms():
    lexicon = Lexicon.from_records(ner_corpus() + [ner("Oslo looked lovely.", [], "t7")])
    record = ner("Oslo welcomed Angela Merkel.", [("location", "Oslo", 0), ("person", "Angela Merkel", 0)])
    sides = set()
    for seed in range(20):
        out = lexicon_backend.extend_sentence(record, lexicon, random.Random(seed))
        assert texts(out) == texts(record) and check(record, out, "extend_sentence", lexicon) == []
        added = out.text.replace(record.text, "").strip()
        # "Paris was rainy today." holds a corpus surface form, "Oslo looked lovely." one of the record.
        assert added in ("The weather stayed mild today.", "The council voted today and the weather stayed calm.")
        sides.add("before" if out.text.endswith(record.text) else "after")
        shift = out.frames[0].filler.start - record.frames[0].filler.start
        assert shift == (len(added) + 1 if out.text.endswith(record.text) else 0)
    assert sides == {"before", "after"}
    assert lexicon_backend.extend_sentence(record, Lexicon.from_records([record]), random.Random(0)) is None


def test_surface_forms_match_on_word_boundaries_ignoring_case():
    forms = SurfaceForms(["Paris", "U.S.", "New York"])
    assert forms.find("they love PARIS!") == "paris"
    assert forms.find("Parisian food in new  york") == "new york"
    assert forms.find("The U.S. economy") == "u.s." and forms.find("The US economy") is None


# --- validators --------------------------------------------------------------------------------


def test_check_accepts_valid_outputs_and_rejects_an_unknown_type():
    assert check(MERKEL, typo(MERKEL, random.Random(0)), "typo") == []
    with pytest.raises(ValueError, match="unknown perturbation type 'shuffle'"):
        check(MERKEL, MERKEL, "shuffle")


def test_check_rejects_a_span_that_no_longer_matches():
    bad = replace(MERKEL, text=MERKEL.text.replace("Angela", "Angelo"))
    assert check(MERKEL, bad, "typo")[0].startswith("span_mismatch: record 'ner-1': span 'Angela Merkel'")


def test_check_rejects_a_changed_type():
    bad = replace(lowercase(MERKEL), frames=[replace(MERKEL.frames[0], type="organisation")] + MERKEL.frames[1:])
    bad = apply_edits(bad, [Edit(1, 2, "E")], "x")
    assert check(MERKEL, bad, "lowercase") == ["structure_changed: frame 0 ('person') differs in type, filler or slots"]
    no_slot = replace(TAKEOVER, frames=[replace(TAKEOVER.frames[0], slots=TAKEOVER.frames[0].slots[:2])])
    assert check(TAKEOVER, no_slot, "typo")[0].startswith("structure_changed")


def test_check_rejects_an_unchanged_text():
    assert check(MERKEL, replace(MERKEL, id="x"), "change_context") == ["unchanged"]


def test_check_rejects_an_altered_annotation_under_change_context():
    bad = apply_edits(MERKEL, [Edit(10, 16, "Angelo"), Edit(24, 31, "toured")], "x")
    assert check(MERKEL, bad, "change_context") == ["annotation_altered: 'Angela Merkel' -> 'Angelo Merkel'"]


def test_check_rejects_an_extension_with_a_surface_form():
    lexicon = Lexicon.from_records(ner_corpus())
    own = apply_edits(MERKEL, [Edit(0, 0, "Copenhagen is far. ")], "x")
    assert check(MERKEL, own, "extend_sentence") == ["new_surface_form: 'copenhagen' in the added text"]
    known = apply_edits(MERKEL, [Edit(len(MERKEL.text), len(MERKEL.text), " Olaf Scholz agreed.")], "x")
    assert check(MERKEL, known, "extend_sentence") == []
    assert check(MERKEL, known, "extend_sentence", lexicon) == ["new_surface_form: 'olaf scholz' in the added text"]
    altered = apply_edits(MERKEL, [Edit(0, 0, "So. "), Edit(24, 31, "toured")], "x")
    assert check(MERKEL, altered, "extend_sentence")[0].startswith("original_altered")


def test_check_rejects_a_changed_re_triple():
    subject, obj = FOUNDERS.frames[0].slots
    swapped = replace(
        FOUNDERS.frames[0], slots=(replace(subject, filler=obj.filler, filler_type="person"), replace(obj, filler=subject.filler, filler_type="company"))
    )
    bad = apply_edits(replace(FOUNDERS, frames=[swapped, FOUNDERS.frames[1]]), [Edit(0, 0, "Look. ")], "x")
    reasons = check(FOUNDERS, bad, "extend_sentence")
    assert "triple_changed: the (relation, subject, object) triples differ" in reasons
    assert "annotation_altered: 'Jin Mensah' -> 'Obsidian Partners'" in reasons


def test_check_of_replace_types():
    person = MERKEL.frames[0].filler
    kept = apply_edits(MERKEL, [Edit(32, 42, "Lyon"), Edit(47, 57, "Oslo")], "x")
    assert check(MERKEL, kept, "replace_entity") == ["not_replaced: 'Angela Merkel' -> 'Angela Merkel'"]
    context = apply_edits(MERKEL, [Edit(person.start, person.end, "Ada Obi"), Edit(32, 42, "Lyon"), Edit(47, 57, "Oslo"), Edit(0, 9, "Today")], "x")
    assert check(MERKEL, context, "replace_entity") == ["context_altered: the text outside the replaced spans, or a span's position, changed"]
    trigger, month = TAKEOVER.frames[0].filler, TAKEOVER.frames[0].slots[2].filler
    argument = apply_edits(TAKEOVER, [Edit(trigger.start, trigger.end, "bought"), Edit(month.start, month.end, "May")], "x")
    assert check(TAKEOVER, argument, "replace_trigger") == [
        "annotation_altered: 'September' -> 'May'",
        "context_altered: the text outside the replaced spans, or a span's position, changed",  # the argument is outside
    ]


def test_check_rejects_a_changed_word_count_under_typo():
    bad = apply_edits(MERKEL, [Edit(24, 31, "vis ited")], "x")
    assert check(MERKEL, bad, "typo") == ["word_count_changed: 7 -> 8"]


# --- the llm backend ---------------------------------------------------------------------------


class FakeBackend:
    """Answers from a function of the prompt; records every call."""

    def __init__(self, answer):
        self.answer = answer
        self.calls: list[tuple[list[dict], int, int]] = []

    def complete(self, messages, n, seed):
        self.calls.append((messages, n, seed))
        return [self.answer(messages[-1]["content"]) for _ in range(n)]


def _asked_mention(prompt: str) -> str:
    return re.search(r'"(.+?)" is', prompt)[1]


def test_replace_prompt_states_the_constraints():
    (mention,) = [m for m in llm_backend.mentions_to_replace(TAKEOVER, "replace_trigger")]
    prompt = llm_backend.replace_messages(TAKEOVER, mention, "replace_trigger")[-1]["content"]
    assert '"acquired" is the trigger word of an event of type acquisition' in prompt
    assert "different string" in prompt and "Answer with the new trigger only" in prompt and TAKEOVER.text in prompt
    (mention, _, _) = llm_backend.mentions_to_replace(FOUNDERS, "replace_triple")  # in text order
    assert mention.text == "Obsidian Partners"
    assert "of type company" in llm_backend.replace_messages(FOUNDERS, mention, "replace_triple")[-1]["content"]


@pytest.mark.parametrize(
    ("response", "original", "parsed"),
    [
        ('"Peru"', "Spain", ("Peru", None)),
        ("Answer: Peru.\nPeru is a country.", "Spain", ("Peru", None)),
        ("  \n New entity: 'Lake Titicaca' ", "Spain", ("Lake Titicaca", None)),
        ("Acme Inc.", "Foo Inc.", ("Acme Inc.", None)),
        ("", "Spain", (None, "empty_response")),
        ('Answer: ""', "Spain", (None, "empty_response")),
        ("I would replace it with a nice country such as Peru or Chile", "Spain", (None, "too_long: 13 words")),
    ],
)
def test_parse_mention(response, original, parsed):
    assert llm_backend.parse_mention(response, original) == parsed


def test_llm_replace_asks_once_per_distinct_mention():
    record = ner("Paris met Rome; Paris won.", [("location", "Paris", 0), ("location", "Rome", 0), ("location", "Paris", 1)])
    backend = FakeBackend(lambda prompt: {"Paris": "Lyon", "Rome": "Answer: Oslo"}[_asked_mention(prompt)])
    out = llm_backend.replace_entity(record, None, random.Random(0), backend=backend, seed=5)
    assert out.text == "Lyon met Oslo; Lyon won." and texts(out) == ["Lyon", "Oslo", "Lyon"]
    assert [(n, seed) for _, n, seed in backend.calls] == [(1, 5), (1, 5)] and check(record, out, "replace_entity") == []
    # An answer that breaks a constraint is not repaired: the validators reject it.
    same = llm_backend.replace_entity(record, None, random.Random(0), backend=FakeBackend(lambda prompt: "paris"), seed=5)
    assert check(record, same, "replace_entity")[0] == "not_replaced: 'Paris' -> 'paris'"
    with pytest.raises(UnusableResponse, match="empty_response"):
        llm_backend.replace_entity(record, None, random.Random(0), backend=FakeBackend(lambda prompt: "\n"), seed=5)


@pytest.mark.parametrize(
    ("response", "parsed"),
    [
        ("MASK1: quick | fast | swift\nMASK2: dog | cat | fox", ({1: ["quick", "fast", "swift"], 2: ["dog", "cat", "fox"]}, None)),
        ("Sure!\n1. [MASK1] - 'quick', fast, swift, rapid\n2. [MASK2]: dog|", ({1: ["quick", "fast", "swift"], 2: ["dog"]}, None)),
        ("MASK1: quick | fast", (None, "missing_fillers: MASK2")),
        ("MASK1: quick\nMASK2: [MASK2] | ", (None, "missing_fillers: MASK2")),
        ("quick fast swift", (None, "bad_format: no 'MASKn: a | b | c' line")),
        (" ", (None, "empty_response")),
    ],
)
def test_parse_fillers(response, parsed):
    assert llm_backend.parse_fillers(response, 2) == parsed


def test_llm_change_context_masks_context_words_only():
    record = ner("Yesterday Angela Merkel visited the old Paris station.", [("person", "Angela Merkel", 0), ("location", "Paris", 0)])
    backend = FakeBackend(lambda prompt: "\n".join(f"MASK{i}: alpha | beta | gamma" for i in range(1, prompt.count("[MASK") + 1)))
    out = llm_backend.change_context(record, None, random.Random(0), backend=backend, seed=1)
    prompt = backend.calls[0][0][-1]["content"]
    assert prompt.endswith("Sentence: [MASK1] Angela Merkel [MASK2] the [MASK3] Paris [MASK4].")
    assert "3 different words" in prompt and "MASK1: word | word | word" in prompt
    changed = _changed_words(record.text, out.text)
    assert [old for old, _ in changed] == ["Yesterday", "visited", "old", "station"]
    assert all(new.lower() in ("alpha", "beta", "gamma") for _, new in changed) and out.text[0].isupper()
    assert check(record, out, "change_context") == []
    with pytest.raises(UnusableResponse, match="missing_fillers: MASK2, MASK3, MASK4"):
        llm_backend.change_context(record, None, random.Random(0), backend=FakeBackend(lambda prompt: "MASK1: a b"), seed=1)


def test_llm_extend_sentence():
    lexicon = Lexicon.from_records(ner_corpus())
    backend = FakeBackend(lambda prompt: "Added text: The talks lasted two hours.")
    out = llm_backend.extend_sentence(MERKEL, lexicon, random.Random(0), backend=backend, seed=1)
    prompt = backend.calls[0][0][-1]["content"]
    assert "must not mention any entity (of any of these types: location, person)" in prompt
    assert ("could come before" in prompt) == out.text.endswith(MERKEL.text)
    assert "The talks lasted two hours." in out.text and check(MERKEL, out, "extend_sentence", lexicon) == []
    bad = llm_backend.extend_sentence(MERKEL, lexicon, random.Random(0), backend=FakeBackend(lambda p: "Then Olaf Scholz came."), seed=1)
    assert check(MERKEL, bad, "extend_sentence", lexicon) == ["new_surface_form: 'olaf scholz' in the added text"]
    assert llm_backend.parse_extension(f"Sure: {MERKEL.text} It was sunny.", MERKEL.text)[1].startswith("echoed_sentence")
    assert llm_backend.parse_extension("", MERKEL.text) == (None, "empty_response")


# --- perturb_records ---------------------------------------------------------------------------


def many_records() -> list[Record]:
    records = [ner(f"Report {i} from Strasbourg arrived.", [("location", "Strasbourg", 0)], f"long-{i}") for i in range(25)]
    return records + [ner(f"Note {i} from Rome.", [("location", "Rome", 0)], f"short-{i}") for i in range(5)]


def test_perturb_records_counts_and_ids():
    result = perturb_records(many_records(), "typo", seed=3)
    assert result.not_applicable == 5 and not result.rejected
    assert [r.id for r in result.records] == [f"long-{i}~typo" for i in range(25)]
    assert len(result.examples) == 20 and {e["status"] for e in result.examples} == {"accepted"}
    example = result.examples[0]
    assert set(example) == {"id", "status", "reasons", "original", "perturbed"} and example["id"].endswith("~typo")


def test_perturb_records_counts_rejections_by_reason():
    records = [ner(f"{city} is calm.", [("location", city, 0)], city) for city in ("Paris", "Rome", "Oslo", "Lima")]
    answers = {"Paris": "paris", "Rome": "", "Oslo": "Bergen", "Lima": "Cusco"}
    backend = FakeBackend(lambda prompt: answers[_asked_mention(prompt)])
    result = perturb_records(records, "replace_entity", seed=0, backend=backend, use_llm=True)
    assert sorted(r.text for r in result.records) == ["Bergen is calm.", "Cusco is calm."]
    assert result.rejected == {"not_replaced": 1, "empty_response": 1} and result.not_applicable == 0
    rejected = {e["id"]: e for e in result.examples if e["status"] == "rejected"}
    assert rejected["Rome~replace_entity"]["perturbed"] is None and rejected["Rome~replace_entity"]["reasons"] == ["empty_response"]


def test_perturb_records_does_not_depend_on_order():
    lexicon = Lexicon.from_records(ner_corpus())
    records = many_records() + [MERKEL]
    shuffled = records[::-1]
    random.Random(0).shuffle(shuffled)
    for kind in ("typo", "change_context", "extend_sentence"):
        first = perturb_records(records, kind, seed=11, lexicon=lexicon)
        second = perturb_records(shuffled, kind, seed=11, lexicon=lexicon)
        assert sorted(first.records, key=lambda r: r.id) == sorted(second.records, key=lambda r: r.id)
        assert first.examples == second.examples
    assert perturb_records(records, "typo", seed=11).records != perturb_records(records, "typo", seed=12).records


def test_perturb_records_refuses_a_type_the_task_lacks():
    with pytest.raises(ValueError, match=r"record 're-1' of task 're' has no perturbation type 'change_context'"):
        perturb_records([MERKEL, FOUNDERS], "change_context", seed=0, lexicon=Lexicon.from_records([]))
    with pytest.raises(ValueError, match="unknown perturbation type 'shuffle'"):
        perturb_records([], "shuffle", seed=0)
    with pytest.raises(ValueError, match="needs a lexicon"):
        perturb_records([MERKEL], "replace_entity", seed=0)
    with pytest.raises(ValueError, match="needs a backend"):
        perturb_records([MERKEL], "replace_entity", seed=0, use_llm=True)
