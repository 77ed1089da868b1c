"""Tool calls valid by construction: replies sampled under a tool grammar from the tiny random
model always parse and validate; free rows beside them decode as if alone; bad schemas fail
clearly and fast."""

from __future__ import annotations

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import GenerationRequest
from llm.loading import load_model
from llm.tool_grammar import ToolGrammar, ToolGrammarCompiler, ToolGrammarError, closed_schema
from tools.tool_spec import argument_errors

# Bounded values (maxLength, ranges, maxItems) so that a random model's sampled calls end within
# the token budget; the shapes are what real tools use.
TOOL_SETS = {
    "nested_and_enum": [
        {
            "name": "book_flight",
            "parameters": {
                "type": "object",
                "properties": {
                    "route": {
                        "type": "object",
                        "properties": {
                            "from": {"type": "string", "enum": ["PEK", "SFO", "CDG"]},
                            "to": {"type": "string", "enum": ["PEK", "SFO", "CDG"]},
                        },
                        "required": ["from", "to"],
                    },
                    "cabin": {"type": "string", "enum": ["economy", "business"]},
                },
                "required": ["route"],
            },
        },
        {
            "name": "cancel_flight",
            "parameters": {
                "type": "object",
                "properties": {"booking": {"type": "string", "maxLength": 6}},
                "required": ["booking"],
            },
        },
    ],
    "numbers_and_arrays": [
        {
            "name": "add_numbers",
            "parameters": {
                "type": "object",
                "properties": {
                    "count": {"type": "integer", "minimum": 0, "maximum": 99},
                    "scale": {"type": "number", "minimum": 0, "maximum": 9},
                    "values": {
                        "type": "array",
                        "items": {"type": "integer", "minimum": -9, "maximum": 9},
                        "maxItems": 3,
                    },
                },
                "required": ["count", "values"],
            },
        }
    ],
    "optional_keys": [
        {
            "name": "set_alarm",
            "parameters": {
                "type": "object",
                "properties": {
                    "hour": {"type": "integer", "minimum": 0, "maximum": 23},
                    "label": {"type": "string", "maxLength": 5},
                    "repeat": {"type": "boolean"},
                },
                "required": ["hour"],
            },
        },
        {"name": "stop_alarm", "parameters": {"type": "object", "properties": {}}},
    ],
}
CHOICES = ["auto", "required", "named"]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


def request(functions, grammar=None, seed=0, **fields) -> GenerationRequest:
    fields.setdefault("max_new_tokens", 256)
    return GenerationRequest(
        messages=[{"role": "user", "content": "please use the tools"}],
        tools=[{"type": "function", "function": f} for f in functions] if functions else None,
        temperature=fields.pop("temperature", 1.0),
        seed=seed,
        tool_grammar=grammar,
        **fields,
    )


def test_sampled_calls_always_parse_and_validate(loaded):
    """204 replies sampled at temperature 1.0 over three tool sets and three tool choices."""
    requests, grammars = [], []
    for set_index, functions in enumerate(TOOL_SETS.values()):
        for choice in CHOICES:
            name = functions[-1]["name"] if choice == "named" else choice
            grammar = ToolGrammar(tuple(functions), name, parallel=True)
            for seed in range(23 if choice != "auto" else 22):
                requests.append(request(functions, grammar, seed=1000 * set_index + seed))
                grammars.append(grammar)
    assert len(requests) >= 200
    results = generate_batch(loaded, requests)
    calls_seen = cut = 0
    for result, grammar in zip(results, grammars, strict=True):
        assert not isinstance(result, Exception), result
        assert result.constrained
        if result.finish_reason == "length":
            # The budget ran out (free text, or a random model writing call after call): only
            # the block it cut may fail to parse.
            assert len(result.tool_call_errors) <= 1, result.text
            assert all("cut off" in error for error in result.tool_call_errors), result.text
            cut += 1
        else:
            assert result.tool_call_errors == [], result.text
        schemas = {f["name"]: f["parameters"] for f in grammar.functions}
        if grammar.choice != "auto":
            assert result.tool_calls, result.text
            assert result.text.startswith("<tool_call>\n"), result.text
        if grammar.choice not in ("auto", "required"):
            assert {call["name"] for call in result.tool_calls} == {grammar.choice}
        for call in result.tool_calls:
            calls_seen += 1
            assert call["name"] in schemas, result.text
            assert argument_errors(call["arguments"], closed_schema(schemas[call["name"]])) == []
    assert calls_seen >= 138  # every required and named reply called at least once
    assert cut < len(requests) // 4


def test_a_single_call_when_parallel_calls_are_off(loaded):
    functions = TOOL_SETS["optional_keys"]
    grammar = ToolGrammar(tuple(functions), "required", parallel=False)
    results = generate_batch(loaded, [request(functions, grammar, seed=s) for s in range(12)])
    for result in results:
        assert len(result.tool_calls) == 1, result.text
        assert result.text.endswith("</tool_call>"), result.text  # nothing after the block


def test_free_rows_decode_as_if_alone_beside_constrained_rows(loaded):
    functions = TOOL_SETS["nested_and_enum"]
    free = [
        request(None, seed=5, temperature=0.0, max_new_tokens=24),
        request(functions, None, seed=6, max_new_tokens=24),  # tools offered, grammar off
        request(None, seed=7, max_new_tokens=24),
    ]
    alone = generate_batch(loaded, free)
    constrained = [
        request(functions, ToolGrammar(tuple(functions), "required"), seed=8),
        request(functions, ToolGrammar(tuple(functions), "book_flight"), seed=9),
    ]
    mixed = generate_batch(loaded, [constrained[0], free[0], free[1], constrained[1], free[2]])
    for before, after in zip(alone, [mixed[1], mixed[2], mixed[4]], strict=True):
        assert after.text == before.text
        assert after.completion_tokens == before.completion_tokens
        assert not after.constrained
    assert mixed[0].constrained and mixed[0].tool_calls


def test_named_function_that_is_not_offered_is_refused():
    with pytest.raises(ToolGrammarError, match="not offered"):
        from llm.tool_grammar import structural_tag

        structural_tag(ToolGrammar(tuple(TOOL_SETS["optional_keys"]), "book_flight"))


def nested(depth: int) -> dict:
    schema: dict = {"type": "string", "maxLength": 3}
    for _ in range(depth):
        schema = {"type": "object", "properties": {"x": schema}, "required": ["x"]}
    return schema


@pytest.fixture(scope="module")
def compiler(loaded):
    return loaded.tool_grammars()


@pytest.mark.parametrize(
    ("name", "parameters", "reason"),
    [
        (
            "bad_pattern",
            {"type": "object", "properties": {"p": {"type": "string", "pattern": "([a-z"}}},
            "Regex",
        ),
        (
            "missing_ref",
            {"type": "object", "properties": {"p": {"$ref": "#/$defs/nowhere"}}},
            "nowhere",
        ),
    ],
)
def test_a_schema_the_library_refuses_names_its_tool(compiler, name, parameters, reason):
    functions = (*TOOL_SETS["optional_keys"], {"name": name, "parameters": parameters})
    with pytest.raises(ToolGrammarError, match=rf"tool '{name}'.*{reason}"):
        compiler.compile(ToolGrammar(functions))
    # The failure is remembered: the same tools fail again without compiling.
    failed = compiler.stats["failed"]
    with pytest.raises(ToolGrammarError):
        compiler.compile(ToolGrammar(functions))
    assert compiler.stats["failed"] == failed


def test_recursion_and_deep_nesting_compile_and_decode(loaded, compiler):
    recursive = {
        "type": "object",
        "properties": {"node": {"$ref": "#/$defs/node"}},
        "$defs": {
            "node": {
                "type": "object",
                "properties": {"next": {"$ref": "#/$defs/node"}, "v": {"type": "integer"}},
            }
        },
    }
    functions = (
        {"name": "walk", "parameters": recursive},
        {"name": "deep", "parameters": nested(50)},
    )
    grammar = ToolGrammar(functions, "deep")
    compiler.compile(grammar)
    (result,) = generate_batch(loaded, [request(list(functions), grammar, max_new_tokens=400)])
    assert result.tool_calls and result.tool_calls[0]["name"] == "deep", result.text


def test_compiling_past_the_time_limit_fails_fast(tiny_model_dir, loaded):
    slow = ToolGrammarCompiler(
        loaded.tokenizer, loaded.model.config.vocab_size, [0], timeout_s=0.01
    )
    huge_enum = {
        "type": "object",
        "properties": {"v": {"type": "string", "enum": [f"value {i}" for i in range(10_000)]}},
    }
    grammar = ToolGrammar(({"name": "pick", "parameters": huge_enum},))
    with pytest.raises(ToolGrammarError, match="took over 0.01 s"):
        slow.compile(grammar)
    slow.close()


def test_an_auto_grammar_that_cannot_compile_decodes_unconstrained(loaded):
    bad = {
        "name": "bad",
        "parameters": {
            "type": "object",
            "properties": {"p": {"type": "string", "pattern": "([a-z"}},
        },
    }
    lenient = ToolGrammar((bad,), "auto", strict=False)
    strict = ToolGrammar((bad,), "auto", strict=True)
    free, refused = generate_batch(
        loaded, [request([bad], lenient, max_new_tokens=4), request([bad], strict)]
    )
    assert not free.constrained and free.completion_tokens == 4
    assert isinstance(refused, ToolGrammarError)


def test_objects_are_closed_unless_the_schema_says_otherwise():
    schema = {
        "type": "object",
        "properties": {
            "a": {"type": "object", "properties": {"b": {"type": "integer"}}},
            "c": {"type": "object", "additionalProperties": {"type": "string"}},
            "d": {"type": "array", "minItems": 1},
        },
    }
    closed = closed_schema(schema)
    assert closed["additionalProperties"] is False
    assert closed["properties"]["a"]["additionalProperties"] is False
    assert closed["properties"]["c"]["additionalProperties"] == {"type": "string"}
    assert closed["properties"]["d"]["items"] == {}  # any item, as JSON Schema means
    assert "additionalProperties" not in schema  # the caller's schema is untouched


def test_an_object_made_of_branches_keeps_the_branches_keys():
    """additionalProperties counts only keys declared beside it: closing a parent whose anyOf
    branches declare the properties would refuse every call but {}."""
    schema = {
        "type": "object",
        "anyOf": [
            {"properties": {"city": {"type": "string"}}, "required": ["city"]},
            {"properties": {"lat": {"type": "number"}}, "required": ["lat"]},
        ],
    }
    closed = closed_schema(schema)
    assert argument_errors({"city": "Oslo"}, closed) == []
    assert argument_errors({"lat": 1.5}, closed) == []
    assert argument_errors({"city": "Oslo", "extra": 1}, closed) != []
    # Branches that only require keys declared beside them leave the parent closed.
    required_only = {
        "type": "object",
        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
    }
    assert closed_schema(required_only)["additionalProperties"] is False


def test_the_cache_key_ignores_key_order_but_not_the_choice():
    one = ToolGrammar(
        ({"name": "f", "parameters": {"type": "object", "required": [], "properties": {}}},)
    )
    same = ToolGrammar(
        ({"parameters": {"properties": {}, "required": [], "type": "object"}, "name": "f"},)
    )
    assert one.key() == same.key()
    assert ToolGrammar(one.functions, "required").key() != one.key()
    assert ToolGrammar(one.functions, parallel=False).key() != one.key()
