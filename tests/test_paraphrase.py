"""Paraphrase pools: filters, response cache, and the openai backend against a real local server."""

from __future__ import annotations

import pytest
from canned_server import CannedServer

from ucuie.instructions import FORMAT_STATEMENTS, base_instructions, format_statement, instruction_tasks
from ucuie.llm import CachedBackend, LLMError, OpenAIChatBackend
from ucuie.paraphrase import build_pool, clean_response, paraphrase_messages

NER_FORMAT = format_statement("ner")


def test_every_base_instruction_states_its_format():
    for task in instruction_tasks():
        pool = base_instructions(task)
        assert len(pool) >= 3, task
        assert all(FORMAT_STATEMENTS[task] in text for text in pool), task


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("Output: Find every entity.", "Find every entity."),
        ("NER: Input: a b c. Output: Find every entity.\nmore text", "Find every entity."),
        ('  "Find every entity."  ', "Find every entity."),
        ("Output: Output:", ""),
        ("\n\n", ""),
    ],
)
def test_clean_response(raw, clean):
    assert clean_response(raw) == clean


def test_openai_backend_builds_filtered_pool_and_caches(tmp_path, monkeypatch):
    good = f"Name each entity in the passage together with its category. {NER_FORMAT}"
    answers = [
        f"Output: {good}",  # kept
        "Name each entity in the passage with its category.",  # format statement lost
        "",  # empty
        f"Output: {good}",  # duplicate of the first
        "Short. " + NER_FORMAT,  # 'Short.' + 9 words of the statement: long enough; kept
        " ".join(["word"] * 80) + " " + NER_FORMAT,  # too long
    ]
    monkeypatch.setenv("TEST_KEY", "secret-123")
    with CannedServer(answers) as server:
        backend = CachedBackend(OpenAIChatBackend(server.url, "canned-model", api_key_env="TEST_KEY", temperature=0.5), tmp_path / "cache")
        base = base_instructions("ner")
        pool = build_pool(backend, n=2, seed=7, min_words=5, max_words=40, tasks=["ner"])
        assert len(server.requests) == 2 * len(base)
        first = server.requests[0]
        assert first["model"] == "canned-model" and first["temperature"] == 0.5
        assert first["messages"] == paraphrase_messages(base[0])
        assert server.headers[0]["Authorization"] == "Bearer secret-123"

        stats = pool.stats["ner"]
        assert stats["generated"] == 2 * len(base)
        assert pool.instructions["ner"][: len(base)] == base
        assert pool.instructions["ner"][len(base) :] == [good, "Short. " + NER_FORMAT]
        # answers cycle over 6 canned responses for 8 requests: the 7th and 8th repeat the
        # first two (a duplicate and a lost format statement).
        assert stats == {
            "base": len(base), "generated": 8, "kept": 2, "empty": 1, "too_short": 0,
            "too_long": 1, "format_lost": 2, "duplicate": 2,
        }

        # Same request again: answered from the cache, no HTTP call.
        again = build_pool(backend, n=2, seed=7, min_words=5, max_words=40, tasks=["ner"])
        assert len(server.requests) == 2 * len(base)
        assert again.instructions == pool.instructions


def test_description_mode_appends_the_format_statement(tmp_path):
    with CannedServer(["Output: Spot every named thing in the passage and label it.", "Use {(x: y)} instead."]) as server:
        backend = CachedBackend(OpenAIChatBackend(server.url, "m"), tmp_path)
        pool = build_pool(backend, n=2, seed=1, tasks=["ner"], part="description")
    assert "Spot every named thing in the passage and label it. " + NER_FORMAT in pool.instructions["ner"]
    # The request carried the description alone, without the notation.
    assert "{(" not in server.requests[0]["messages"][1]["content"].split("Input:")[-1]
    assert pool.stats["ner"]["format_lost"] == pool.stats["ner"]["generated"] // 2


def test_openai_backend_errors_name_the_cause(tmp_path):
    with CannedServer(["x"], status=401) as server:
        backend = OpenAIChatBackend(server.url, "m", api_key_env="NO_SUCH_KEY_VAR")
        with pytest.raises(LLMError, match=r"HTTP 401.*NO_SUCH_KEY_VAR"):
            backend.complete([{"role": "user", "content": "hi"}], 1, 0)
    with pytest.raises(LLMError, match="could not reach"):
        OpenAIChatBackend("http://127.0.0.1:9/v1", "m", timeout_s=2).complete([{"role": "user", "content": "hi"}], 1, 0)
    with pytest.raises(LLMError, match="instructions.openai.url"):
        OpenAIChatBackend("", "m")


def test_pool_backend_is_base_instructions_only():
    pool = build_pool(None, n=5, seed=0)
    assert pool.backend == "pool"
    assert pool.instructions == {task: base_instructions(task) for task in instruction_tasks()}
