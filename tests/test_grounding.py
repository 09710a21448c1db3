"""Grounding filler strings in the text: which occurrences, which occurrence, ungrounded spans."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ucuie.grounding import ground, occurrences
from ucuie.linearize import ParsedFrame, linearize, parse
from ucuie.records import Frame, Record, Slot, Span


def test_exact_match_gives_offsets_and_the_text_there():
    text = "Barack Obama spoke at Columbia University."
    result = ground([ParsedFrame("person", "Barack Obama"), ParsedFrame("location", "Columbia University")], text)
    assert result.frames == [
        Frame("person", Span(0, 12, "Barack Obama")),
        Frame("location", Span(22, 41, "Columbia University")),
    ]
    assert result.ungrounded == 0


def test_case_insensitive_only_when_no_exact_match():
    text = "APPLE sells apples; Apple is a company."
    # "Apple" occurs exactly at 20, so the case-insensitive hits at 0 and 12 are not considered.
    assert ground([ParsedFrame("org", "Apple")], text).frames == [Frame("org", Span(20, 25, "Apple"))]
    # "aPPLE" occurs nowhere exactly: its first case-insensitive occurrence, with the text's casing.
    assert ground([ParsedFrame("org", "aPPLE")], text).frames == [Frame("org", Span(0, 5, "APPLE"))]


def test_ungrounded_and_empty_fillers():
    result = ground([ParsedFrame("person", "Michelle", [("spouse", "")]), ParsedFrame("misc", None)], "Barack spoke.")
    assert result.frames == [
        Frame("person", Span(-1, -1, "Michelle"), (Slot("spouse", Span(-1, -1, "")),)),
        Frame("misc", None),
    ]
    assert result.ungrounded == 2


def test_kth_use_of_a_frame_filler_takes_the_kth_occurrence_clamped_to_the_last():
    text = "Paris is big. Paris is old."
    parsed = [ParsedFrame("location", "Paris"), ParsedFrame("city", "Paris"), ParsedFrame("capital", "Paris")]
    starts = [frame.filler.start for frame in ground(parsed, text).frames]
    assert starts == [0, 14, 14]


def test_overlapping_occurrences_count():
    assert occurrences("aa", "aaa") == [(0, 2), (1, 3)]
    assert occurrences("x", "abc") == []
    assert occurrences("", "abc") == []


def test_slot_filler_takes_the_occurrence_nearest_to_its_frame_filler():
    text = "Mary met John in Paris. John left Paris for Rome."
    #       0    5   9    14 17     24   29   34    40  44
    parsed = [
        ParsedFrame("Meet", "met", [("Entity", "John"), ("Place", "Paris")]),
        ParsedFrame("Transport", "left", [("Person", "John"), ("Origin", "Paris"), ("Destination", "Rome")]),
    ]
    meet, transport = ground(parsed, text).frames
    assert [slot.filler.start for slot in meet.slots] == [9, 17]
    assert [slot.filler.start for slot in transport.slots] == [24, 34, 44]


def test_nearest_tie_goes_to_the_earlier_occurrence():
    parsed = [ParsedFrame("Sue", "sued", [("Plaintiff", "Bob")])]
    # "sued" is [7, 11): the first "Bob" ends 4 characters before it, the second starts 3 after.
    (frame,) = ground(parsed, "Bob xx sued y Bob").frames
    assert frame.slots[0].filler.start == 14
    # 4 characters on either side: the earlier one.
    (frame,) = ground(parsed, "Bob xx sued xx Bob").frames
    assert frame.slots[0].filler.start == 0


def test_slot_fillers_without_grounded_frame_filler_use_the_kth_use_rule():
    text = "John works for IBM. John lives in Boston."
    parsed = [
        ParsedFrame("work for", None, [("subject", "John"), ("object", "IBM")]),
        ParsedFrame("live in", None, [("subject", "John"), ("object", "Boston")]),
        ParsedFrame("born in", "Ulm", [("subject", "John")]),  # ungrounded frame filler: k-th use too
    ]
    result = ground(parsed, text)
    subjects = [frame.slots[0].filler.start for frame in result.frames]
    assert subjects == [0, 20, 20]
    assert result.ungrounded == 1


def test_frame_and_slot_uses_are_counted_separately():
    text = "Ann met Ann."
    parsed = [ParsedFrame("person", "Ann"), ParsedFrame("knows", None, [("subject", "Ann")])]
    person, knows = ground(parsed, text).frames
    assert person.filler.start == 0
    assert knows.slots[0].filler.start == 0


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=1, max_value=12), st.data())
def test_linearize_parse_ground_recovers_frames_when_each_filler_occurs_once(n_words, data):
    # Fixed-width distinct words: every run of consecutive words occurs exactly once in the text.
    words = [f"w{i:02d}" for i in range(n_words)]
    text = " ".join(words)

    def draw_span() -> Span:
        first = data.draw(st.integers(min_value=0, max_value=n_words - 1))
        last = data.draw(st.integers(min_value=first, max_value=min(first + 2, n_words - 1)))
        start, end = 4 * first, 4 * last + 3
        return Span(start, end, text[start:end])

    frames = [
        Frame(
            type=data.draw(st.sampled_from(["X", "Y"])),
            filler=draw_span() if data.draw(st.booleans()) else None,
            slots=tuple(Slot(data.draw(st.sampled_from(["a", "b"])), draw_span()) for _ in range(data.draw(st.integers(0, 3)))),
        )
        for _ in range(data.draw(st.integers(min_value=0, max_value=4)))
    ]
    result = ground(parse(linearize(frames)).frames, text)
    assert result.frames == frames
    assert result.ungrounded == 0
    Record("r", text, "ee", "d", "test", result.frames).validate()


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=40), st.lists(st.text(max_size=5), max_size=6))
def test_grounded_spans_always_match_the_text(text, strings):
    parsed = [ParsedFrame("t", s, [("s", s2) for s2 in strings]) for s in strings]
    result = ground(parsed, text)
    spans = [f.filler for f in result.frames] + [slot.filler for f in result.frames for slot in f.slots]
    for span in spans:
        if span.start >= 0:
            assert text[span.start : span.end] == span.text
        else:
            assert span.end == -1
    assert result.ungrounded == sum(1 for span in spans if span.start < 0)
