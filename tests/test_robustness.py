"""RUIE-Bench in the workflow: source shares, perturbing a split, instances, per-set scores, the table;
the llm backend against a real HTTP server."""

from __future__ import annotations

import math

import pytest
from canned_server import CannedServer

from ucuie.linearize import linearize
from ucuie.llm import CachedBackend, OpenAIChatBackend
from ucuie.perturb import PERTURBATIONS
from ucuie.perturb.lexicon import inflection
from ucuie.records import DatasetSchema, Frame, Record, Slot, span_at
from ucuie.robustness import (
    CLEAN,
    perturb_split,
    perturbed_instances,
    robustness_table,
    score_by_variant,
    source_id,
    source_shares,
    variant_of,
)

LEXICON = {"replace": "lexicon", "change_context": "lexicon", "extend_sentence": "lexicon"}
LLM = {"replace": "llm", "change_context": "llm", "extend_sentence": "llm"}


def ner(record_id: str, text: str, *mentions: tuple[str, str]) -> Record:
    frames = [Frame(type=type_, filler=span_at(text, text.index(m), text.index(m) + len(m))) for type_, m in mentions]
    return Record(record_id, text, "ner", "toy_ner", "test", frames)


def corpus() -> list[Record]:
    return [
        ner("r0", "Angela Merkel visited Paris yesterday afternoon.", ("person", "Angela Merkel"), ("location", "Paris")),
        ner("r1", "Barack Obama spoke in Berlin during the ceremony.", ("person", "Barack Obama"), ("location", "Berlin")),
        ner("r2", "Olaf Scholz travelled to Madrid for negotiations.", ("person", "Olaf Scholz"), ("location", "Madrid")),
        ner("r3", "Nothing remarkable happened during the long weekend."),
        ner("r4", "Markets remained quiet throughout the holiday season."),
    ]


def test_source_shares_split_each_task_evenly():
    shares = source_shares({"ner": 1000, "re": 800, "ee": 676}, {"ner": ["a", "b", "c"], "re": ["d"], "ee": ["e", "f"]})
    assert shares == {"a": 334, "b": 333, "c": 333, "d": 800, "e": 338, "f": 338}
    assert sum(shares[d] for d in "abc") == 1000


def test_perturb_split_samples_sources_and_applies_every_type_of_the_task():
    result = perturb_split(corpus(), seed=3, size=3, generators=LEXICON, typo_rate=0.25, max_context_words=4)
    assert len(result.sources) == 3
    assert set(result.records) == set(PERTURBATIONS["ner"]) == set(result.report)
    for kind, records in result.records.items():
        entry = result.report[kind]
        assert entry["accepted"] == len(records)
        assert entry["accepted"] + entry["not_applicable"] + entry["rejected"] == entry["sources"] == 3
        for record in records:
            record.validate()
            assert variant_of(record.id) == kind and source_id(record.id) in {s.id for s in result.sources}
    # Same seed, same benchmark; the sample is seeded.
    again = perturb_split(corpus(), seed=3, size=3, generators=LEXICON, typo_rate=0.25, max_context_words=4)
    assert [r.to_json() for rs in again.records.values() for r in rs] == [r.to_json() for rs in result.records.values() for r in rs]


def test_perturb_split_refuses_mixed_tasks_and_untyped_backends():
    relation = Record("x", "A B", "re", "toy_re", "test", [])
    with pytest.raises(ValueError, match="holds one task"):
        perturb_split([*corpus(), relation], seed=1, generators=LEXICON, typo_rate=0.25, max_context_words=4)
    with pytest.raises(ValueError, match="llm backend"):
        perturb_split(corpus(), seed=1, generators=LLM, typo_rate=0.25, max_context_words=4)


def test_trigger_replacements_prefer_the_same_word_form():
    assert [inflection(t) for t in ("fled", "was promoted to", "attacking", "raids", "journey")] == ["ed", "other", "ing", "s", "other"]


def test_perturbed_instances_keep_the_source_instruction():
    sources = corpus()
    result = perturb_split(sources, seed=5, generators=LEXICON, typo_rate=0.25, max_context_words=4)
    copies = [r for records in result.records.values() for r in records]
    pool = [f"Instruction number {i}. Answer in the format {{(entity type: entity mention): []}}." for i in range(50)]
    schema = DatasetSchema("toy_ner", "ner", {"location": [], "person": []})
    instances = perturbed_instances(result.sources, copies, schema, pool, seed=5)
    by_id = {instance.id: instance for instance in instances}
    assert len(instances) == len(sources) + len(copies)
    assert len({by_id[s.id].instruction for s in sources}) > 1  # instructions are sampled, not constant
    for copy in copies:
        assert by_id[copy.id].instruction == by_id[source_id(copy.id)].instruction
        assert by_id[copy.id].text == copy.text and by_id[copy.id].target == linearize(copy.frames)


def test_score_by_variant_scores_each_set_against_its_own_gold():
    source = corpus()[0]
    lowered = Record("r0~lowercase", source.text[0] + source.text[1:].lower(), "ner", "toy_ner", "test", [
        Frame("person", span_at(source.text[0] + source.text[1:].lower(), 0, 13)),
        Frame("location", span_at(source.text[0] + source.text[1:].lower(), 22, 27)),
    ])
    predictions = [
        {"id": "r0", "output": "{(person: Angela Merkel): [], (location: Paris): []}"},
        {"id": "r0~lowercase", "output": "{(person: Angela merkel): []}"},
    ]
    result = score_by_variant([source, lowered], predictions)
    assert set(result) == {CLEAN, "lowercase"}
    assert "F1=100.00" in result[CLEAN]["summary"]
    assert result["lowercase"]["scores"][0]["offset"] == {"tp": 1, "fp": 0, "fn": 1}


def scored(dataset: str, task: str, metric: str, tp: int, fp: int, fn: int) -> dict:
    counts = {"tp": tp, "fp": fp, "fn": fn}
    return {"scores": [{"dataset": dataset, "task": task, "metric": metric, "offset": counts, "string": counts}], "counts": {}, "summary": ""}


def test_robustness_table_means_over_seeds_and_relative_drop():
    def seed(clean_tp: int, typo_tp: int) -> list[dict]:
        ner_sets = {CLEAN: scored("a", "ner", "entity", clean_tp, 10 - clean_tp, 10 - clean_tp), "typo": scored("a", "ner", "entity", typo_tp, 10 - typo_tp, 10 - typo_tp)}
        ee_sets = {CLEAN: scored("e", "ee", "trigger", 0, 3, 3), "lowercase": scored("e", "ee", "trigger", 0, 2, 2)}
        ee_sets[CLEAN]["scores"].append(scored("e", "ee", "argument", 5, 0, 0)["scores"][0])  # ED is judged on triggers only
        return [ner_sets, ee_sets]

    table = robustness_table({"uc-uie": [seed(8, 4), seed(6, 4)]})
    rows = {(r["task"], r["dataset"], r["type"]): r for r in table.to_dict("records")}
    assert rows[("NER", "a", "Clean")]["uc-uie F1"] == 70.0  # mean of 80 and 60
    assert rows[("NER", "a", "Typo Injection")]["uc-uie F1"] == 40.0
    assert rows[("NER", "a", "Typo Injection")]["uc-uie drop %"] == pytest.approx(100 * (70 - 40) / 70, abs=0.01)
    assert math.isnan(rows[("NER", "a", "Clean")]["uc-uie drop %"])
    assert math.isnan(rows[("ED", "e", "Lowercase")]["uc-uie drop %"])  # clean F1 0: no relative drop
    assert rows[("NER", "average", "Typo Injection")]["uc-uie F1"] == 40.0
    # Every type of each task, in the paper's order, per dataset and then averaged; a type that
    # applied to no sentence has an empty row.
    ner_types = ["Clean", "Replace Entity", "Change Context", "Extend Sentence", "Typo Injection", "Lowercase"]
    ed_types = ["Clean", "Replace Trigger", "Change Context", "Extend Sentence", "Typo Injection", "Lowercase"]
    assert list(zip(table["task"], table["dataset"], table["type"])) == (
        [("NER", d, t) for d in ("a", "average") for t in ner_types] + [("ED", d, t) for d in ("e", "average") for t in ed_types]
    )
    assert math.isnan(rows[("NER", "a", "Replace Entity")]["uc-uie F1"])


def test_llm_backend_against_a_real_http_server(tmp_path):
    """Every generated NER type through the openai backend: good answers accepted, a bad extension
    rejected by the validators, and a second run served from the response cache."""

    def answer(messages: list[dict]) -> str:
        prompt = messages[-1]["content"]
        if "entity mention of type person" in prompt:
            return "Answer: Lena Fischer"
        if "entity mention of type location" in prompt:
            return '"Vienna"'
        if "[MASK" in prompt:
            masks = prompt.split("Sentence:")[-1].count("[MASK")
            return "\n".join(f"MASK{i}: calm | steady | gentle" for i in range(1, masks + 1))
        if "Markets" in prompt.split("Sentence:")[-1]:
            return "Angela Merkel commented on it."  # an annotated surface form: must be rejected
        return "It was widely reported."

    records = [corpus()[0], ner("m", "Markets remained quiet in Paris for hours.", ("location", "Paris"))]
    with CannedServer(answer) as server:
        backend = CachedBackend(OpenAIChatBackend(server.url, "canned-model"), tmp_path / "cache")
        result = perturb_split(records, seed=2, generators=LLM, backend=backend, typo_rate=0.25, max_context_words=2)
        requests = len(server.requests)
        again = perturb_split(records, seed=2, generators=LLM, backend=backend, typo_rate=0.25, max_context_words=2)
        assert len(server.requests) == requests  # every answer came from the cache
    assert requests == 3 + 2 + 2  # three distinct mentions, one mask prompt and one extension per record
    replaced = {r.id: r for r in result.records["replace_entity"]}
    assert replaced["r0~replace_entity"].text == "Lena Fischer visited Vienna yesterday afternoon."
    assert [f.filler.text for f in replaced["r0~replace_entity"].frames] == ["Lena Fischer", "Vienna"]
    assert result.report["change_context"]["accepted"] == 2
    assert all(r.frames[0].filler.text in ("Angela Merkel", "Paris") for r in result.records["change_context"])
    assert result.report["extend_sentence"]["accepted"] == 1
    assert result.report["extend_sentence"]["rejected_by_reason"] == {"new_surface_form": 1}
    assert result.report["replace_entity"]["backend"] == "llm" and result.report["typo"]["backend"] == "rule"
    assert [r.to_json() for r in again.records["extend_sentence"]] == [r.to_json() for r in result.records["extend_sentence"]]
