"""The tool grammar as GBNF on the llama.cpp engine: replies sampled under it from tiny models
always parse and validate (a random model under ``required`` and a named function, the trained
one under ``auto``, where the grammar holds from ``<tool_call>`` on); schemas it cannot write
fail naming their tool; rule names are valid whatever the tools are called. (A GBNF llama.cpp
refuses is a LlamaCppRequestError: test_llamacpp_engine's test_bad_requests_fail_alone.)"""

from __future__ import annotations

import re

import pytest
from transformers import AutoTokenizer

from llm.llamacpp_engine import LlamaCppEngine, LlamaCppSettings, Sampling
from llm.tool_gbnf import _integer_range, tool_call_gbnf
from llm.tool_grammar import ToolGrammar, ToolGrammarError, closed_schema
from tests.gguf_models import write_qwen2_gguf
from tests.tiny_model import TRAINED_TINY_MODEL
from tools.tool_calls import parse_tool_calls
from tools.tool_spec import argument_errors

CITY = {"type": "string", "enum": ["PEK", "SFO", "CDG"]}
# Strings mostly bounded, so that a random model's calls end within the token budget; numbers
# bounded only below (their upper bounds are the guard's, not the grammar's).
TOOL_SETS = {
    "nested_enums_and_optional_keys": [
        {
            "name": "book_flight",
            "parameters": {
                "type": "object",
                "properties": {
                    "cabin": {"type": "string", "enum": ["economy", "business"]},
                    "route": {
                        "type": "object",
                        "properties": {"from": CITY, "to": CITY, "via": CITY},
                        "required": ["from", "to"],
                    },
                    "note": {"type": "string", "maxLength": 6},
                    "when": {"type": "string", "format": "date"},
                },
                "required": ["route"],
            },
        },
        {"name": "stop_alarm", "parameters": {"type": "object", "properties": {}}},
    ],
    "integers_numbers_and_arrays": [
        {
            "name": "add_numbers",
            "parameters": {
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "minimum": -3, "maximum": 120},
                    "scale": {"type": "number", "minimum": 0},
                    "offset": {"type": "number"},
                    "values": {
                        "type": "array",
                        "items": {"type": "integer", "exclusiveMinimum": 0, "maximum": 9},
                        "minItems": 1,
                        "maxItems": 3,
                    },
                    "flags": {"type": "array", "items": {"type": "boolean"}, "maxItems": 2},
                },
                "required": ["count", "values"],
            },
        }
    ],
    "refs_unions_and_open_objects": [
        {
            "name": "walk.tree_2",
            "parameters": {
                "type": "object",
                "properties": {
                    "node": {"$ref": "#/$defs/node"},
                    "label": {"anyOf": [{"type": "string", "maxLength": 4}, {"type": "null"}]},
                    "mode": {"type": ["integer", "null"], "minimum": 0, "maximum": 3},
                    "extra": {
                        "type": "object",
                        "properties": {"id": {"type": "integer", "minimum": 0, "maximum": 9}},
                        "additionalProperties": {"type": "boolean"},
                    },
                },
                "required": ["node"],
                "$defs": {
                    "node": {
                        "type": "object",
                        "properties": {
                            "v": {"type": "integer", "minimum": 0, "maximum": 9},
                            "next": {"$ref": "#/$defs/node"},
                        },
                        "required": ["v"],
                    }
                },
            },
        },
        {
            "name": "set_alarm",
            "parameters": {
                "type": "object",
                "properties": {
                    "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                    "days": {"type": "array", "items": {"enum": ["mon", "tue", 7, None]}},
                },
            },
        },
    ],
}
RULE_NAME = re.compile(r"^([a-zA-Z0-9-]+) ::= ", re.MULTILINE)


def functions_of(name: str) -> tuple[dict, ...]:
    return tuple(TOOL_SETS[name])


def rule_names(text: str) -> list[str]:
    return RULE_NAME.findall(text)


def test_one_call_alternative_per_offered_function():
    functions = functions_of("nested_enums_and_optional_keys")
    auto = tool_call_gbnf(ToolGrammar(functions, "auto"))
    (call,) = re.findall(r"^call ::= (.*)$", auto.text, re.MULTILINE)
    assert call == "tool-book-flight | tool-stop-alarm"
    assert auto.trigger == "<tool_call>"
    assert 'root ::= "<tool_call>" call ("\\n<tool_call>" call)*' in auto.text
    named = tool_call_gbnf(ToolGrammar(functions, "stop_alarm", parallel=False))
    assert named.trigger is None
    assert "call ::= tool-stop-alarm\n" in named.text
    assert 'root ::= "<tool_call>" call\n' in named.text
    assert "book_flight" not in named.text


@pytest.mark.parametrize(
    ("parameters", "reason"),
    [
        ({"type": "object", "properties": {"p": {"not": {"type": "string"}}}}, "'not'"),
        ({"type": "object", "patternProperties": {"^x": {}}}, "patternProperties"),
        ({"type": "object", "properties": {"p": {"prefixItems": [{}]}}}, "prefixItems"),
        ({"type": "object", "properties": {"p": {"$ref": "#/$defs/nowhere"}}}, "points at"),
        ({"type": "object", "properties": {"p": {"$ref": "other.json#/x"}}}, "not within"),
        ({"type": "object", "properties": {"p": {"type": "decimal"}}}, "unknown type"),
        (
            {"allOf": [{"properties": {"a": {}}}, {"properties": {"b": {}}}]},
            "both set 'properties'",
        ),
        ({"type": "object", "required": ["ghost"]}, "'ghost' is not among"),
        (
            {
                "type": "object",
                "properties": {"n": {"type": "integer", "minimum": 5, "maximum": 4}},
            },
            "no integer",
        ),
    ],
)
def test_a_schema_it_cannot_write_names_its_tool(parameters, reason):
    functions = (
        *functions_of("nested_enums_and_optional_keys"),
        {"name": "bad", "parameters": parameters},
    )
    with pytest.raises(ToolGrammarError, match=rf"tool 'bad' cannot be enforced: .*{reason}"):
        tool_call_gbnf(ToolGrammar(functions, "auto"))


def test_a_named_function_that_is_not_offered_is_refused():
    with pytest.raises(ToolGrammarError, match="not offered"):
        tool_call_gbnf(ToolGrammar(functions_of("nested_enums_and_optional_keys"), "nope"))


def test_a_grammar_that_cannot_be_written_fails_when_strict_and_frees_the_reply_otherwise():
    functions = (
        {"name": "bad", "parameters": {"type": "object", "properties": {"p": {"not": {}}}}},
    )
    with pytest.raises(ToolGrammarError, match="tool 'bad'"):
        Sampling.under_tool_grammar(ToolGrammar(functions, "required"), max_tokens=8)
    free = Sampling.under_tool_grammar(ToolGrammar(functions, strict=False), max_tokens=8)
    assert free == Sampling(max_tokens=8)


def test_the_grammar_is_written_once_per_tool_set():
    functions = functions_of("integers_numbers_and_arrays")
    first = tool_call_gbnf(ToolGrammar(functions, "required"))
    assert tool_call_gbnf(ToolGrammar(tuple(dict(f) for f in functions), "required")) is first
    assert tool_call_gbnf(ToolGrammar(functions, "auto")) is not first


@pytest.mark.parametrize(
    ("low", "high"),
    [
        (0, 9),
        (-3, 120),
        (1, 9),
        (17, 4321),
        (99, 101),
        (-130, -7),
        (-1, 0),
        (0, None),
        (7, None),
        (123, None),
        (None, -3),
        (None, 42),
    ],
)
def test_integer_bounds_allow_exactly_the_integers_between(low, high):
    # Its digits, ranges and groups read the same as a regular expression.
    pattern = re.compile(_integer_range(low, high).replace('"', "").replace(" ", ""))
    for value in range(-5000, 5000):
        inside = (low is None or value >= low) and (high is None or value <= high)
        assert bool(pattern.fullmatch(str(value))) == inside, value
    assert not any(pattern.fullmatch(text) for text in ("00", "07", "-0", "-07", "+1"))


@pytest.fixture(scope="module")
def random_model(tiny_model_dir, tmp_path_factory):
    """The tiny random model in llama.cpp, with its tokenizer."""
    gguf = write_qwen2_gguf(tiny_model_dir, tmp_path_factory.mktemp("gbnf") / "tiny.gguf")
    settings = LlamaCppSettings(gguf_path=str(gguf), parallel=8, context_per_slot=1024, threads=1)
    with LlamaCppEngine(settings) as engine:
        yield engine, AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def trained_model(tmp_path_factory):
    """The tiny model trained to call the built-in tools, in llama.cpp, with its tokenizer."""
    gguf = write_qwen2_gguf(TRAINED_TINY_MODEL, tmp_path_factory.mktemp("gbnf") / "trained.gguf")
    settings = LlamaCppSettings(gguf_path=str(gguf), parallel=8, context_per_slot=1024, threads=1)
    with LlamaCppEngine(settings) as engine:
        yield engine, AutoTokenizer.from_pretrained(TRAINED_TINY_MODEL)


def sample(model, grammar: ToolGrammar, seeds: range, question: str, max_tokens: int = 300):
    """Replies at temperature 1.0 under ``grammar``, one a seed, decoded together."""
    engine, tokenizer = model
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}],
        tools=[{"type": "function", "function": f} for f in grammar.functions],
        add_generation_prompt=True,
        tokenize=False,
    )
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    generations = [
        engine.submit(
            ids,
            Sampling.under_tool_grammar(grammar, max_tokens=max_tokens, temperature=1.0, seed=seed),
        )
        for seed in seeds
    ]
    return [generation.result() for generation in generations]


def assert_calls_valid(reply, grammar: ToolGrammar) -> int:
    """Every call in the reply names an offered tool with valid arguments; returns how many."""
    parsed = parse_tool_calls(reply.text)
    if reply.finish_reason == "length":  # the budget ran out: only the block it cut may break
        assert all("cut off" in error for error in parsed.errors), reply.text
        assert len(parsed.errors) <= 1, reply.text
    else:
        assert parsed.errors == [], reply.text
    schemas = {f["name"]: f["parameters"] for f in grammar.functions}
    for call in parsed.tool_calls:
        assert call.name in schemas, reply.text
        if grammar.choice not in ("auto", "required"):
            assert call.name == grammar.choice, reply.text
        errors = argument_errors(call.arguments, closed_schema(schemas[call.name]))
        assert errors == [], reply.text
    return len(parsed.tool_calls)


@pytest.mark.parametrize("tool_set", list(TOOL_SETS))
def test_sampled_calls_parse_and_validate_under_required_and_a_named_function(
    random_model, tool_set
):
    """32 replies per tool set at temperature 1.0 from the random model; the grammar holds from
    the first token."""
    functions = functions_of(tool_set)
    required = ToolGrammar(functions, "required")
    named = ToolGrammar(functions, functions[0]["name"])
    replies = [
        (grammar, reply)
        for grammar, seeds in [(required, range(16)), (named, range(100, 116))]
        for reply in sample(random_model, grammar, seeds, "please use the tools")
    ]
    for grammar, reply in replies:
        assert reply.text.startswith("<tool_call>\n{"), reply.text
        calls = assert_calls_valid(reply, grammar)
        assert calls >= 1 or reply.finish_reason == "length", reply.text
    assert sum(reply.finish_reason == "length" for _, reply in replies) < len(replies) // 4


def test_one_call_when_parallel_calls_are_off(random_model):
    grammar = ToolGrammar(functions_of("refs_unions_and_open_objects"), "required", parallel=False)
    replies = sample(random_model, grammar, range(8), "please use the tools")
    finished = [reply for reply in replies if reply.finish_reason == "stop"]
    assert len(finished) >= 6
    for reply in finished:
        assert assert_calls_valid(reply, grammar) == 1
        assert reply.text.endswith("</tool_call>"), reply.text  # nothing after the block


def test_rule_names_from_odd_function_names_are_valid_and_llama_cpp_takes_them(random_model):
    names = ["get.weather", "get_weather", "get-weather", "2fa code", "天气", "root", "ws", "call"]
    functions = tuple({"name": n, "parameters": {"type": "object"}} for n in names)
    grammar = ToolGrammar(functions, "required")
    text = tool_call_gbnf(grammar).text
    defined = rule_names(text)
    assert len(defined) == len(text.splitlines())  # every rule's name a GBNF identifier
    assert len(defined) == len(set(defined))
    (call,) = re.findall(r"^call ::= (.*)$", text, re.MULTILINE)
    assert len(call.split(" | ")) == len(names)
    assert set(call.split(" | ")) <= set(defined)
    for reply in sample(random_model, grammar, range(8), "please use the tools", max_tokens=60):
        assert reply.text.startswith("<tool_call>\n{"), reply.text
        assert assert_calls_valid(reply, grammar) >= 1 or reply.finish_reason == "length"


def test_under_auto_text_is_free_until_the_trigger_and_calls_keep_to_the_grammar(trained_model):
    """The trained model calls get_weather for a weather question; the grammar, applied from
    the <tool_call> it writes (the trigger included), holds the call to the offered enum."""
    weather = {
        "name": "get_weather",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "enum": ["Oslo", "Lima"]}},
            "required": ["location"],
        },
    }
    calculate = {
        "name": "calculate",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "maxLength": 12}},
            "required": ["expression"],
        },
    }
    grammar = ToolGrammar((weather, calculate), "auto")
    questions = ["What is the weather in Paris?", "How much is 12 times 7?", "Tell me a joke"]
    replies = [
        reply
        for question in questions
        for reply in sample(trained_model, grammar, range(10), question, max_tokens=80)
    ]
    calls = free = 0
    for reply in replies:
        calls += assert_calls_valid(reply, grammar)
        if "<tool_call>" in reply.text:
            # The grammar matched the tag the model wrote: one tag a block, not a second one.
            assert reply.text.count("<tool_call>") == reply.text.count("</tool_call>"), reply.text
        else:
            free += 1
    assert calls >= 10  # the weather questions at least
    assert free >= 5  # the jokes, unconstrained
    places = {
        call.arguments["location"]
        for reply in replies
        for call in parse_tool_calls(reply.text).tool_calls
        if call.name == "get_weather"
    }
    assert places and places <= {"Oslo", "Lima"}  # asked about Paris


BOUNDED = {
    # Counted repetitions inside counted repetitions: llama.cpp refuses a rule whose nested
    # counts multiply past 2000 (an AWS API from the corpus, get_profile_recommendations).
    "name": "get_profile_recommendations",
    "parameters": {
        "type": "object",
        "properties": {
            "CandidateIds": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 255},
                "maxItems": 50,
            },
            "Columns": {
                "type": "array",
                "items": {"type": "string", "minLength": 1, "maxLength": 150},
                "minItems": 1,
                "maxItems": 10,
            },
        },
        "required": ["Columns"],
    },
}


def test_bounded_strings_in_bounded_arrays_are_taken_and_kept_to(random_model):
    """The random model's strings fill their bounds. It also writes bytes that are not UTF-8,
    which llama.cpp counts as one character each and which decode to several U+FFFD: those
    are left out of the count."""
    limits = {"CandidateIds": 255, "Columns": 150}
    replies = sample(random_model, ToolGrammar((BOUNDED,), "required"), range(8), "use it")
    for reply in replies:
        assert reply.text.startswith('<tool_call>\n{"name": "get_profile_recommendations"')
        for call in parse_tool_calls(reply.text).tool_calls:
            assert 1 <= len(call.arguments["Columns"]) <= 10, reply.text
            for key, strings in call.arguments.items():
                for string in strings:
                    assert 1 <= len(string.replace("\ufffd", "")) <= limits[key], reply.text
