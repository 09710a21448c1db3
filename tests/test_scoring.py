"""The scorer: units per task, offset vs string matching, aggregation, and agreement with seqeval.

Expected numbers are worked out by hand in the comments next to them.
"""

from __future__ import annotations

import os
import random
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from seqeval.metrics import f1_score, precision_score, recall_score

from ucuie.data.convert.bio import records_from_bio
from ucuie.records import Frame, Record, Slot, Span
from ucuie.scoring import METRICS, Counts, normalise, score, units


def at(text: str, piece: str, occurrence: int = 0) -> Span:
    """The ``occurrence``-th (0-based) span of ``piece`` in ``text``."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(piece, start + 1)
    return Span(start, start + len(piece), piece)


def record(text: str, task: str, frames: list[Frame], dataset: str = "d", record_id: str = "r") -> Record:
    rec = Record(id=record_id, text=text, task=task, dataset=dataset, split="test", frames=frames)
    # Records of the capability-warming sub-tasks are not data-file records; check the spans alone.
    replace(rec, task="ee").validate()
    return rec


def counts(gold: Record, predicted: list[Frame], metric: str, matching: str = "offset") -> Counts:
    return score([gold], {gold.id: predicted}).get(gold.dataset, metric).counts(matching)


def test_metrics_cover_every_task():
    assert METRICS == {
        "ner": ["entity"],
        "re": ["triple"],
        "ee": ["trigger", "argument"],
        "absa": ["triplet", "pair"],
        "judging": ["judging"],
        "locating": ["locating"],
        "associating": ["associating"],
    }


def test_counts_precision_recall_f1():
    assert Counts(tp=1, fp=2, fn=1).precision == pytest.approx(1 / 3)
    assert Counts(tp=1, fp=2, fn=1).recall == pytest.approx(1 / 2)
    assert Counts(tp=1, fp=2, fn=1).f1 == pytest.approx(0.4)  # 2 * (1/3) * (1/2) / (5/6)
    assert Counts().f1 == 0.0
    assert Counts(tp=0, fp=3, fn=0).precision == 0.0


def test_ner_entity():
    text = "Barack Obama visited Paris and Columbia University"
    gold = record(text, "ner", [Frame("person", at(text, "Barack Obama")), Frame("location", at(text, "Paris"))])
    predicted = [
        Frame("person", at(text, "Barack Obama")),  # match
        Frame("person", at(text, "Paris")),  # wrong type
        Frame("organisation", at(text, "Columbia University")),  # not in gold
    ]
    # 2 gold, 3 predicted, 1 match: P = 1/3, R = 1/2, F1 = 0.4.
    result = counts(gold, predicted, "entity")
    assert (result.tp, result.fp, result.fn) == (1, 2, 1)
    assert result.f1 == pytest.approx(0.4)


def test_ner_boundary_must_be_exact():
    text = "Barack Obama spoke"
    gold = record(text, "ner", [Frame("person", at(text, "Barack Obama"))])
    assert counts(gold, [Frame("person", at(text, "Obama"))], "entity") == Counts(tp=0, fp=1, fn=1)


def test_re_triple():
    text = "John works for IBM and Mary lives in Boston"
    john, ibm, mary, boston = (at(text, w) for w in ("John", "IBM", "Mary", "Boston"))

    def relation(kind: str, subject: Span, obj: Span) -> Frame:
        return Frame(kind, None, (Slot("subject", subject), Slot("object", obj)))

    gold = record(text, "re", [relation("work for", john, ibm), relation("live in", mary, boston)])
    predicted = [
        relation("work for", john, ibm),  # match
        relation("work for", ibm, john),  # subject and object swapped
        relation("located in", mary, boston),  # wrong relation type
        Frame("live in", None, (Slot("subject", mary),)),  # no object: no triple at all
    ]
    # 2 gold, 3 predicted triples, 1 match.
    assert counts(gold, predicted, "triple") == Counts(tp=1, fp=2, fn=1)


def test_re_frame_with_two_subjects_gives_one_triple_per_pair():
    text = "John and Mary work for IBM"
    john, mary, ibm = at(text, "John"), at(text, "Mary"), at(text, "IBM")
    gold = record(text, "re", [Frame("work for", None, (Slot("subject", john), Slot("object", ibm)))])
    predicted = [Frame("work for", None, (Slot("subject", john), Slot("subject", mary), Slot("object", ibm)))]
    assert counts(gold, predicted, "triple") == Counts(tp=1, fp=1, fn=0)


def test_ee_trigger_and_argument():
    text = "Obama delivered a speech at Columbia in May"
    gold = record(
        text,
        "ee",
        [Frame("Speech", at(text, "delivered"), (Slot("Speaker", at(text, "Obama")), Slot("Place", at(text, "Columbia"))))],
    )
    predicted = [
        # Trigger span wrong ("speech"), arguments judged by (event type, role, span) alone.
        Frame(
            "Speech",
            at(text, "speech"),
            (Slot("Speaker", at(text, "Obama")), Slot("Time", at(text, "May")), Slot("Place", at(text, "Columbia"))),
        ),
        Frame("Meet", at(text, "delivered"), (Slot("Speaker", at(text, "Obama")),)),
    ]
    # Triggers: gold {Speech@delivered}; predicted {Speech@speech, Meet@delivered}: 0 match.
    assert counts(gold, predicted, "trigger") == Counts(tp=0, fp=2, fn=1)
    # Arguments: gold {Speech/Speaker/Obama, Speech/Place/Columbia};
    # predicted {those two, Speech/Time/May, Meet/Speaker/Obama}: 2 match.
    assert counts(gold, predicted, "argument") == Counts(tp=2, fp=2, fn=0)


def test_absa_triplet():
    text = "great battery but awful screen"
    great, battery, awful, screen = (at(text, w) for w in ("great", "battery", "awful", "screen"))

    def triplet(polarity: str, aspect: Span, opinion: Span) -> Frame:
        return Frame(polarity, None, (Slot("aspect", aspect), Slot("opinion", opinion)))

    gold = record(text, "absa", [triplet("POS", battery, great), triplet("NEG", screen, awful)])
    predicted = [triplet("POS", battery, great), triplet("POS", screen, awful), triplet("NEG", screen, great)]
    assert counts(gold, predicted, "triplet") == Counts(tp=1, fp=2, fn=1)
    assert units("triplet", gold.frames) == {((6, 13), (0, 5), "POS"), ((24, 30), (18, 23), "NEG")}
    # The pair metric ignores polarity: (screen, awful) counts although it is labelled POS.
    assert counts(gold, predicted, "pair") == Counts(tp=2, fp=1, fn=0)
    assert units("pair", gold.frames) == {((6, 13), (0, 5)), ((24, 30), (18, 23))}


def test_absa_pair_is_shown_but_left_out_of_the_averages():
    text = "great battery"
    great, battery = at(text, "great"), at(text, "battery")
    gold = [
        record(text, "absa", [Frame("POS", None, (Slot("aspect", battery), Slot("opinion", great)))], dataset="a", record_id="a"),
        record(text, "ner", [Frame("product", battery)], dataset="n", record_id="n"),
    ]
    # Polarity wrong: triplet F1 0, pair F1 1; NER right: entity F1 1.
    scores = score(gold, {"a": [Frame("NEG", None, (Slot("aspect", battery), Slot("opinion", great)))], "n": [Frame("product", battery)]})
    assert scores.columns() == [("ner", "entity"), ("absa", "triplet"), ("absa", "pair")]
    assert scores.get("a", "pair").offset.f1 == 1.0
    assert scores.overall() == pytest.approx(0.5)
    assert scores.overall(average="tasks") == pytest.approx(0.5)


def test_capability_units():
    text = "Obama delivered a speech at Columbia"
    obama, delivered, columbia = at(text, "Obama"), at(text, "delivered"), at(text, "Columbia")
    gold_frames = [Frame("Speech", delivered, (Slot("Speaker", obama), Slot("Place", columbia)))]
    predicted = [
        Frame("Speech", delivered, (Slot("Speaker", obama),)),
        Frame("Meet", None, (Slot("Place", columbia),)),
    ]
    # Judging: gold {Speech, Speech/Speaker, Speech/Place}; predicted {Speech, Speech/Speaker,
    # Meet, Meet/Place}: 2 match.
    gold = record(text, "judging", gold_frames)
    assert counts(gold, predicted, "judging") == Counts(tp=2, fp=2, fn=1)
    # Locating: gold {Speech@delivered, Speech/Speaker@Obama, Speech/Place@Columbia}; predicted
    # {Speech@delivered, Speech/Speaker@Obama, Meet/Place@Columbia}: 2 match.
    gold = record(text, "locating", gold_frames)
    assert counts(gold, predicted, "locating") == Counts(tp=2, fp=1, fn=1)
    # Associating: whole frames; the predicted Speech frame lacks its Place slot: 0 match.
    gold = record(text, "associating", gold_frames)
    assert counts(gold, predicted, "associating") == Counts(tp=0, fp=2, fn=1)
    reordered = [Frame("Speech", delivered, (Slot("Place", columbia), Slot("Speaker", obama)))]
    assert counts(gold, reordered, "associating") == Counts(tp=1, fp=0, fn=0)


def test_a_slot_without_filler_counts_only_for_judging():
    text = "Obama delivered a speech at Columbia"
    delivered, columbia = at(text, "delivered"), at(text, "Columbia")
    gold = record(text, "ee", [Frame("Speech", delivered, (Slot("Place", columbia),))])
    with_null = [Frame("Speech", delivered, (Slot("Place", columbia), Slot("Speaker", None)))]
    # A model writing (Speaker: Null) neither gains nor loses an argument, a locating or an
    # associating unit; judging sees the slot type Speech/Speaker (a false positive here).
    assert counts(gold, with_null, "argument") == Counts(tp=1, fp=0, fn=0)
    assert counts(replace(gold, task="locating"), with_null, "locating") == Counts(tp=2, fp=0, fn=0)
    assert counts(replace(gold, task="associating"), with_null, "associating") == Counts(tp=1, fp=0, fn=0)
    assert counts(replace(gold, task="judging"), with_null, "judging") == Counts(tp=2, fp=1, fn=0)


def test_duplicates_count_once():
    text = "Paris is in France"
    gold = record(text, "ner", [Frame("location", at(text, "Paris")), Frame("location", at(text, "Paris"))])
    predicted = [Frame("location", at(text, "Paris"))] * 3 + [Frame("location", at(text, "France"))] * 2
    # Gold {Paris}; predicted {Paris, France}.
    assert counts(gold, predicted, "entity") == Counts(tp=1, fp=1, fn=0)


def test_right_string_wrong_occurrence_matches_only_by_string():
    text = "Paris Hilton left Paris"
    gold = record(text, "ner", [Frame("location", at(text, "Paris", 1))])
    predicted = [Frame("location", at(text, "Paris", 0))]
    assert counts(gold, predicted, "entity", "offset") == Counts(tp=0, fp=1, fn=1)
    assert counts(gold, predicted, "entity", "string") == Counts(tp=1, fp=0, fn=0)


def test_string_matching_normalises_case_and_whitespace():
    assert normalise("  New\t YORK \n") == "new york"
    text = "they met in NEW  YORK and new york"
    gold = record(text, "ner", [Frame("location", at(text, "NEW  YORK"))])
    predicted = [Frame("location", at(text, "new york"))]
    assert counts(gold, predicted, "entity", "string") == Counts(tp=1, fp=0, fn=0)


def test_ungrounded_predictions_match_only_by_string_and_stay_distinct():
    text = "Barack Obama spoke"
    gold = record(text, "ner", [Frame("person", at(text, "Barack Obama"))])
    predicted = [Frame("person", Span(-1, -1, "barack obama")), Frame("person", Span(-1, -1, "Michelle"))]
    assert counts(gold, predicted, "entity", "offset") == Counts(tp=0, fp=2, fn=1)
    assert counts(gold, predicted, "entity", "string") == Counts(tp=1, fp=1, fn=0)


def test_missing_prediction_counts_as_empty():
    text = "Paris and Rome"
    gold = [
        record(text, "ner", [Frame("location", at(text, "Paris")), Frame("location", at(text, "Rome"))], record_id="a"),
        record(text, "ner", [Frame("location", at(text, "Rome"))], record_id="b"),
    ]
    result = score(gold, {"a": [Frame("location", at(text, "Paris"))]}).get("d", "entity").offset
    assert result == Counts(tp=1, fp=0, fn=2)


def test_aggregation_micro_macro_overall_and_rows():
    text = "Paris and Rome"
    paris, rome = at(text, "Paris"), at(text, "Rome")
    gold = [
        # Dataset n1: 1 gold, predicted right: tp 1 -> F1 1.
        record(text, "ner", [Frame("location", paris)], dataset="n1", record_id="1"),
        # Dataset n2: 3 records with one gold each, one predicted right: tp 1, fn 2 -> F1 0.5.
        record(text, "ner", [Frame("location", paris)], dataset="n2", record_id="2"),
        record(text, "ner", [Frame("location", rome)], dataset="n2", record_id="3"),
        record(text, "ner", [Frame("location", rome)], dataset="n2", record_id="4"),
        # Dataset r1: one triple, nothing predicted -> F1 0.
        record(text, "re", [Frame("near", None, (Slot("subject", paris), Slot("object", rome)))], dataset="r1", record_id="5"),
    ]
    scores = score(gold, {"1": [Frame("location", paris)], "2": [Frame("location", paris)]})
    assert scores.get("n2", "entity").offset == Counts(tp=1, fp=0, fn=2)
    # Micro over n1 and n2: tp 2, fn 2 -> P 1, R 1/2, F1 2/3.  Macro: (1 + 0.5) / 2 = 0.75.
    assert scores.task_micro("ner", "entity") == Counts(tp=2, fp=0, fn=2)
    assert scores.task_micro("ner", "entity").f1 == pytest.approx(2 / 3)
    assert scores.task_macro("ner", "entity") == pytest.approx(0.75)
    assert scores.columns() == [("ner", "entity"), ("re", "triple")]
    # The paper's "Average": mean over the datasets' F1, (1 + 0.5 + 0) / 3 = 0.5.
    assert scores.overall() == pytest.approx(0.5)
    # Mean over the task columns: NER 0.75 (macro) and RE 0 -> 0.375.
    assert scores.overall(average="tasks") == pytest.approx(0.375)

    rows = pd.DataFrame(scores.to_rows())
    offset = rows[rows.matching == "offset"]
    n2 = offset[(offset.scope == "dataset") & (offset.dataset == "n2")].iloc[0]
    assert (n2.tp, n2.fp, n2.fn, n2.precision, n2.recall) == (1, 0, 2, 1.0, pytest.approx(1 / 3))
    assert n2.f1 == pytest.approx(0.5)
    macro = offset[(offset.scope == "task_macro") & (offset.task == "ner")].iloc[0]
    assert macro.f1 == pytest.approx(0.75)
    assert offset[(offset.scope == "overall") & (offset.metric == "tasks")].iloc[0].f1 == pytest.approx(0.375)
    # 3 datasets + 2 task_micro + 2 task_macro + 2 overall rows, for each of the 2 matchings.
    assert len(rows) == 2 * (3 + 2 + 2 + 2)


def test_a_dataset_shared_by_tasks_keeps_their_results_apart():
    text = "Obama spoke"
    gold = [
        record(text, "ner", [Frame("person", at(text, "Obama"))], dataset="ace2005", record_id="n"),
        record(text, "ee", [Frame("Speech", at(text, "spoke"))], dataset="ace2005", record_id="e"),
    ]
    scores = score(gold, {"n": [Frame("person", at(text, "Obama"))]})
    assert scores.get("ace2005", "entity").offset == Counts(tp=1, fp=0, fn=0)
    assert scores.get("ace2005", "trigger").offset == Counts(tp=0, fp=0, fn=1)
    assert scores.columns() == [("ner", "entity"), ("ee", "trigger"), ("ee", "argument")]


def test_ee_task_has_two_columns():
    text = "Obama spoke"
    gold = [record(text, "ee", [Frame("Speech", at(text, "spoke"), (Slot("Speaker", at(text, "Obama")),))])]
    scores = score(gold, {"r": [Frame("Speech", at(text, "spoke"))]})
    assert scores.columns() == [("ee", "trigger"), ("ee", "argument")]
    # Trigger F1 1, argument F1 0.
    assert scores.overall() == pytest.approx(0.5)
    assert scores.overall(average="tasks") == pytest.approx(0.5)


def test_bad_inputs_are_refused_with_a_clear_message():
    text = "Paris"
    gold = record(text, "ner", [Frame("location", at(text, "Paris"))])
    with pytest.raises(ValueError, match="no gold record"):
        score([gold], {"elsewhere": []})
    with pytest.raises(ValueError, match="more than once"):
        score([gold, gold], {})
    other = Record(id="x", text=text, task="pos", dataset="d", split="test")
    with pytest.raises(ValueError, match="has no metrics"):
        score([other], {})
    with pytest.raises(ValueError, match="unknown metric"):
        units("relation", [])


# --- agreement with seqeval on BIO data ----------------------------------------------------------

TYPES = ["PER", "LOC", "ORG"]
tags = st.sampled_from(["O", "O", "O"] + [f"{p}-{t}" for p in "BI" for t in TYPES])


def f1_by_scorer(gold_tags: list[list[str]], predicted_tags: list[list[str]]) -> Counts:
    """Convert both tag sequences with the BIO converter and score the predicted frames."""
    tokens = [[f"t{i}" for i in range(len(sentence))] for sentence in gold_tags]
    gold = records_from_bio([list(zip(t, g)) for t, g in zip(tokens, gold_tags)], "bio", "test")
    predicted = records_from_bio([list(zip(t, p)) for t, p in zip(tokens, predicted_tags)], "bio", "test")
    return score(gold, {r.id: r.frames for r in predicted}).get("bio", "entity").offset


@pytest.mark.filterwarnings("ignore:.*ill-defined")  # seqeval warns when a side has no entities
@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=10), min_size=1, max_size=5), st.data())
def test_ner_f1_equals_seqeval_on_random_tags(lengths, data):
    gold_tags = [data.draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    predicted_tags = [data.draw(st.lists(tags, min_size=n, max_size=n)) for n in lengths]
    ours = f1_by_scorer(gold_tags, predicted_tags)
    assert ours.f1 == pytest.approx(f1_score(gold_tags, predicted_tags))
    assert ours.precision == pytest.approx(precision_score(gold_tags, predicted_tags))
    assert ours.recall == pytest.approx(recall_score(gold_tags, predicted_tags))


def shared_data() -> Path:
    return Path(os.environ.get("UCUIE_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))


def read_bio(path: Path) -> list[list[tuple[str, str]]]:
    """Sentences of ``token<TAB>tag`` lines, without CoNLL's -DOCSTART- separators."""
    sentences, sentence = [], []
    for line in [*path.read_text(encoding="utf-8").splitlines(), ""]:
        fields = line.split()
        if fields:
            sentence.append((fields[0], fields[-1]))
        elif sentence:
            if sentence[0][0] != "-DOCSTART-":
                sentences.append(sentence)
            sentence = []
    return sentences


def corrupt(tags: list[str], rng: random.Random, types: list[str]) -> list[str]:
    """Predicted tags: the gold ones with types swapped, boundaries moved, entities lost or invented."""
    predicted = list(tags)
    for i, tag in enumerate(predicted):
        roll = rng.random()
        if tag != "O" and roll < 0.08:
            predicted[i] = f"{tag[0]}-{rng.choice(types)}"
        elif tag != "O" and roll < 0.12:
            predicted[i] = "O"
        elif tag.startswith("B-") and roll < 0.16:
            predicted[i] = "I-" + tag[2:]
        elif tag == "O" and roll < 0.03:
            predicted[i] = f"{rng.choice('BI')}-{rng.choice(types)}"
    return predicted


def test_ner_f1_equals_seqeval_on_conll2003_test_with_corrupted_predictions():
    path = shared_data() / "conll2003" / "test.txt"
    if not path.is_file():
        pytest.skip(f"{path} is absent (set UCUIE_SHARED_DATA to the shared data folder)")
    sentences = read_bio(path)
    gold_tags = [[tag for _, tag in sentence] for sentence in sentences]
    types = sorted({tag[2:] for sentence in gold_tags for tag in sentence if tag != "O"})
    rng = random.Random(13)
    predicted_tags = [corrupt(sentence, rng, types) for sentence in gold_tags]
    tokens = [[token for token, _ in sentence] for sentence in sentences]
    gold = records_from_bio(sentences, "conll2003", "test")
    predicted = records_from_bio([list(zip(t, p)) for t, p in zip(tokens, predicted_tags)], "conll2003", "test")
    ours = score(gold, {r.id: r.frames for r in predicted}).get("conll2003", "entity").offset
    assert ours.tp + ours.fn == 5628  # CoNLL-2003 test entities (data/SOURCES.md)
    assert 0.5 < ours.f1 < 0.95  # the corruption is real but partial
    assert ours.f1 == pytest.approx(f1_score(gold_tags, predicted_tags))
    assert ours.precision == pytest.approx(precision_score(gold_tags, predicted_tags))
    assert ours.recall == pytest.approx(recall_score(gold_tags, predicted_tags))
