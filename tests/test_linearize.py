"""The unified output string: layout, quoting, the tolerant parser, and round trips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ucuie.linearize import ParsedFrame, ParseResult, format_schema, linearize, parse, quote
from ucuie.records import Frame, Slot, Span


def span(text: str) -> Span:
    """A span whose offsets do not matter to the linearizer."""
    return Span(start=0, end=len(text), text=text)


SPEECH = Frame(
    type="Speech",
    filler=span("delivered"),
    slots=(
        Slot("Speaker", span("Barack Obama")),
        Slot("Place", span("Columbia University")),
        Slot("Time", span("May 14, 2012")),
    ),
)


# --- writing -------------------------------------------------------------------------------------


def test_paper_example_with_quoted_comma():
    assert linearize([SPEECH]) == (
        '{(Speech: delivered): [(Speaker: Barack Obama), (Place: Columbia University), (Time: "May 14, 2012")]}'
    )


def test_all_frames_in_one_pair_of_braces():
    frames = [Frame("person", span("Barack Obama")), Frame("location", span("Columbia University"))]
    assert linearize(frames) == "{(person: Barack Obama): [], (location: Columbia University): []}"


def test_no_frames_and_null_filler():
    assert linearize([]) == "{}"
    relation = Frame("work for", None, (Slot("subject", span("John")), Slot("object", span("IBM"))))
    assert linearize([relation]) == "{(work for: Null): [(subject: John), (object: IBM)]}"
    judged = Frame("work for", None, (Slot("subject", None), Slot("object", None)))
    assert linearize([judged]) == "{(work for: Null): [(subject: Null), (object: Null)]}"


def test_quoting_rule():
    assert quote("New York") == "New York"
    assert quote("naïve café") == "naïve café"
    assert quote("") == '""'
    assert quote("Null") == '"Null"'
    assert quote("null") == "null"
    assert quote(" x") == '" x"'
    assert quote("x\t") == '"x\t"'
    for char in "()[]{}:,":
        assert quote(f"a{char}b") == f'"a{char}b"'
    assert quote('say "hi"') == r'"say \"hi\""'
    assert quote("a\\b") == r'"a\\b"'
    assert quote("two\nlines") == r'"two\nlines"'


def test_format_schema():
    schema = {"Speech": ["Speaker", "Place", "Time"], "person": [], "Null": ["a:b"]}
    assert format_schema(schema) == '{Speech: [Speaker, Place, Time], person: [], "Null": ["a:b"]}'
    assert format_schema({}) == "{}"


# --- reading well-formed and malformed text ------------------------------------------------------


def test_parse_paper_example():
    result = parse(linearize([SPEECH]))
    assert result == ParseResult(
        [
            ParsedFrame(
                "Speech",
                "delivered",
                [("Speaker", "Barack Obama"), ("Place", "Columbia University"), ("Time", "May 14, 2012")],
            )
        ],
        errors=0,
    )


def test_whitespace_between_tokens_is_free():
    result = parse(' \n{ ( person :  Barack  Obama ) : [ ] ,\n(work for:Null):[(subject:John),(object:IBM)] } \n')
    assert result.frames == [
        ParsedFrame("person", "Barack  Obama", []),
        ParsedFrame("work for", None, [("subject", "John"), ("object", "IBM")]),
    ]
    assert result.errors == 0


def test_truncated_final_frame_keeps_complete_frames_and_counts_one_error():
    text = "{(person: Barack Obama): [], (location: Colum"
    assert parse(text) == ParseResult([ParsedFrame("person", "Barack Obama")], errors=1)
    assert parse("{(person: Barack Obama): [], ") == ParseResult([ParsedFrame("person", "Barack Obama")], errors=1)
    assert parse("{(person: Barack Obama): []") == ParseResult([ParsedFrame("person", "Barack Obama")], errors=1)
    assert parse('{(a: "unclosed') == ParseResult([], errors=1)


def test_garbage_between_frames_is_skipped_and_counted_once_per_stretch():
    text = "{(a: b): [], oops ]] ( broken, (c: d): [(e: f)], ##, (g: h): []}"
    assert parse(text) == ParseResult(
        [ParsedFrame("a", "b"), ParsedFrame("c", "d", [("e", "f")]), ParsedFrame("g", "h")],
        errors=2,
    )


def test_missing_separator_counts_one_error():
    assert parse("{(a: b): [] (c: d): []}") == ParseResult([ParsedFrame("a", "b"), ParsedFrame("c", "d")], errors=1)


def test_missing_outer_braces_are_tolerated():
    assert parse("(a: b): [], (c: Null): [(d: e)]") == ParseResult(
        [ParsedFrame("a", "b"), ParsedFrame("c", None, [("d", "e")])], errors=0
    )
    assert parse("") == ParseResult([], errors=0)
    assert parse("{}") == ParseResult([], errors=0)


def test_text_after_closing_brace_is_ignored_but_counted():
    assert parse("{(a: b): []} and (c: d): []") == ParseResult([ParsedFrame("a", "b")], errors=1)
    assert parse("{(a: b): []}  \n") == ParseResult([ParsedFrame("a", "b")], errors=0)


def test_null_words():
    # A bare Null filler (of a frame or a slot) is missing; a quoted one is the string.
    result = parse('{(a: Null): [(s: Null), (t: "Null")], (Null: "Null"): []}')
    assert result.frames == [ParsedFrame("a", None, [("s", None), ("t", "Null")]), ParsedFrame("Null", "Null")]
    assert result.errors == 0


def test_escapes_and_tolerated_oddities():
    result = parse(r'{("a\"b\\c\nd": "x\qy"): [], (path: C:\dir): []}')
    assert result.frames[0] == ParsedFrame('a"b\\c\nd', "x\\qy")
    # "C:\dir" is not quoted, so its colon breaks the frame: skipped and counted.
    assert result.errors == 1
    assert len(result.frames) == 1


def test_trailing_commas_are_tolerated():
    assert parse("{(a: b): [(c: d), ], }") == ParseResult([ParsedFrame("a", "b", [("c", "d")])], errors=0)


def test_empty_type_or_filler_written_bare_is_malformed():
    assert parse("{(: b): [], (a: ): [], (x: y): []}") == ParseResult([ParsedFrame("x", "y")], errors=1)


# --- properties ----------------------------------------------------------------------------------

tricky = st.sampled_from(["Null", "null", "", " ", " a ", '"', "\\", "\\n", "\n", "(a: b): []", "}{", "x, y", "]"])
strings = st.one_of(tricky, st.text(max_size=12), st.text(alphabet='ab ()[]{}:,"\\\nN\tü', max_size=12))
parsed_frames = st.builds(
    ParsedFrame,
    type=strings,
    filler=st.one_of(st.none(), strings),
    slots=st.lists(st.tuples(strings, st.one_of(st.none(), strings)), max_size=3),
)


def to_frame(parsed: ParsedFrame) -> Frame:
    return Frame(
        type=parsed.type,
        filler=None if parsed.filler is None else span(parsed.filler),
        slots=tuple(Slot(slot_type, None if value is None else span(value)) for slot_type, value in parsed.slots),
    )


@settings(max_examples=300, deadline=None)
@given(st.lists(parsed_frames, max_size=4))
def test_round_trip(frames):
    assert parse(linearize([to_frame(f) for f in frames])) == ParseResult(frames, errors=0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80) | st.text(alphabet='ab ()[]{}:,"\\N', max_size=80))
def test_parse_never_raises_on_arbitrary_text(text):
    result = parse(text)
    assert result.errors >= 0
    assert all(isinstance(f, ParsedFrame) for f in result.frames)


def complete_frames(frames: list[ParsedFrame], text: str, cut: int) -> int:
    """How many frames of ``text`` (their linearization) end at or before ``cut``."""
    end = 1  # after "{"
    for k, frame in enumerate(frames):
        end += len(linearize([to_frame(frame)])) - 2 + (2 if k else 0)
        if end > cut:
            return k
    return len(frames)


@settings(max_examples=300, deadline=None)
@given(st.lists(parsed_frames, min_size=1, max_size=4), st.data())
def test_truncation_keeps_the_complete_frames_and_counts_an_error(frames, data):
    text = linearize([to_frame(f) for f in frames])
    cut = data.draw(st.integers(min_value=1, max_value=len(text) - 1))
    result = parse(text[:cut])
    k = complete_frames(frames, text, cut)
    assert result.frames[:k] == frames[:k]
    assert result.errors >= 1


@settings(max_examples=300, deadline=None)
@given(st.lists(parsed_frames, max_size=4), st.data())
def test_parse_never_raises_on_mutated_output(frames, data):
    chars = list(linearize([to_frame(f) for f in frames]))
    for _ in range(data.draw(st.integers(min_value=1, max_value=5))):
        position = data.draw(st.integers(min_value=0, max_value=len(chars)))
        action = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        new = data.draw(st.sampled_from(list('()[]{}:,"\\ xN')))
        if action == "insert":
            chars.insert(position, new)
        elif position < len(chars):
            if action == "delete":
                del chars[position]
            else:
                chars[position] = new
    result = parse("".join(chars))
    assert result.errors >= 0
