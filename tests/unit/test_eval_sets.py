"""The hand-written evaluation sets: they load, every request calls a held-out provider's tool
with arguments its schema accepts, and a refusal to a general question scores wrong."""

from __future__ import annotations

import random
from collections import Counter, defaultdict

import pytest
import yaml

from configs.settings import CorpusConfig
from llm.generation import GenerationResult
from train_app.api_corpus.build import MANIFEST_FILE, corpus_dir, load_split
from train_app.eval_sets.rows import (
    ExpectedCall,
    HandwrittenEntry,
    general_rows,
    handwritten_rows,
    load_general_questions,
    load_handwritten,
)
from train_app.evaluation import CATEGORIES, is_refusal, score_reply
from train_app.schema_rows.phrasing import load_patterns
from train_app.tool_library import PHRASINGS_FILE, load_chat

CORPUS = CorpusConfig()


@pytest.fixture(scope="module")
def split():
    if not (corpus_dir(CORPUS) / MANIFEST_FILE).is_file():
        pytest.skip(f"the API corpus is not built in {corpus_dir(CORPUS)} (CI builds it)")
    return load_split(CORPUS)


def test_sets_load_with_both_languages_and_every_category():
    entries = load_handwritten()
    assert len(entries) >= 44
    languages = Counter(entry.language for entry in entries)
    assert min(languages.values()) >= len(entries) * 0.4
    assert set(Counter(entry.category for entry in entries)) == {
        "simple",
        "multiple",
        "parallel",
        "irrelevance",
    }
    questions = load_general_questions()
    assert (len(questions.en), len(questions.zh)) == (20, 20)
    assert not set(questions.all()) & {q.question for q in load_chat()}


def test_every_handwritten_entry_is_a_valid_row_on_the_real_split(split):
    rows = handwritten_rows(split)
    assert len(rows) == len(load_handwritten())  # none skipped: every API is held out
    held = {tool["function"]["name"] for group in split.eval for tool in group.tools}
    for row in rows:
        assert row["category"] == "handwritten"
        assert {tool["function"]["name"] for tool in row["tools"]} <= held


def test_handwritten_apis_belong_to_held_out_providers_only(split):
    providers = {group.api: group.provider for group in split.eval + split.train}
    trained = {group.provider for group in split.train}
    used = {providers[entry.api] for entry in load_handwritten()}
    assert used and not used & trained
    # Nor is an offered tool a training API's too (one company under two provider names).
    offered = {
        (tool["function"]["name"], tool["function"]["description"])
        for row in handwritten_rows(split)
        for tool in row["tools"]
    }
    assert not offered & {
        (tool["function"]["name"], tool["function"]["description"])
        for group in split.train
        for tool in group.tools
    }


def test_general_questions_offer_two_to_four_tools_of_one_held_out_api(split):
    rows = general_rows(split, random.Random(0))
    assert len(rows) == len(load_general_questions().all())
    apis = {
        tool["function"]["name"] + tool["function"]["description"]: group.api
        for group in split.eval
        for tool in group.tools
    }
    for row in rows:
        assert row["category"] == "general" and 2 <= len(row["tools"]) <= 4
        assert "tool_calls" not in row["messages"][-1]
        assert all(
            t["function"]["name"] + t["function"]["description"] in apis for t in row["tools"]
        )


def test_a_call_its_tool_schema_refuses_raises_naming_the_entry(split):
    group = next(g for g in split.eval if g.api == "aws:kinesisvideo")
    entry = HandwrittenEntry(
        api=group.api,
        offered=["create_stream"],
        request="Make a stream called cam with three days of retention.",
        language="en",
        calls=[
            ExpectedCall(
                name="create_stream",
                arguments={"StreamName": "cam", "DataRetentionInHours": "three days"},
            )
        ],
        category="simple",
    )
    with pytest.raises(ValueError, match=r"handwritten entry 0 \(aws:kinesisvideo.*Retention"):
        handwritten_rows(split, (entry,))
    missing = entry.model_copy(update={"offered": ["no_such_tool"], "calls": []})
    with pytest.raises(ValueError, match="has no tool no_such_tool"):
        handwritten_rows(split, (missing,))


def test_an_entry_of_an_api_not_in_the_split_is_skipped(split):
    entry = load_handwritten()[0].model_copy(update={"api": "example.com/not-in-any-corpus"})
    assert handwritten_rows(split, (entry,)) == []


def test_an_entry_shape_must_fit_its_category():
    call = {"name": "a", "arguments": {}}
    with pytest.raises(ValueError, match="simple entry offers one tool"):
        HandwrittenEntry.model_validate(
            {"api": "x", "offered": ["a", "b"], "request": "r", "language": "en"}
            | {"calls": [call], "category": "simple"}
        )
    with pytest.raises(ValueError, match="not offered"):
        HandwrittenEntry.model_validate(
            {"api": "x", "offered": ["b"], "request": "r", "language": "en"}
            | {"calls": [call], "category": "simple"}
        )


def test_a_refusal_to_a_general_question_scores_wrong_and_an_answer_right():
    refusal = GenerationResult(
        text="Sorry, none of the available tools can do this, so I won't guess.", content=""
    )
    answer = GenerationResult(text="Leap years keep the calendar in step with the Sun.", content="")
    assert score_reply([], answer, [], "general")[:2] == (True, True)
    assert score_reply([], refusal, [], "general") == (False, False, "refused a general question")
    assert score_reply([], refusal, [], "chat")[0] is False
    assert score_reply([], refusal, [], "irrelevance")[:2] == (True, True)  # no call: right
    assert {"handwritten", "general"} <= set(CATEGORIES)


def test_every_refusal_the_training_rows_teach_is_detected():
    """The phrases in eval_sets/refusals.yaml follow the templates training rows refuse with."""
    filler = defaultdict(lambda: "look up flights")
    templates = yaml.safe_load(PHRASINGS_FILE.read_text(encoding="utf-8"))["refusals"]
    patterns = load_patterns()["irrelevance"]
    for language in ("en", "zh"):
        for template in templates[language] + patterns[language]:
            assert is_refusal(template.format_map(filler)), template
    assert is_refusal("I can\u2019t book that: none of the tools I have here can book flights.")
    assert not is_refusal("Ice floats because it is less dense than liquid water.")
    assert not is_refusal("我可以用这些工具帮你查航班，不过这个问题我直接回答：海水含盐。")
