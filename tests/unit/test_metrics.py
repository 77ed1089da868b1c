"""What the serving metrics record, with labels that stay bounded (no Ray cluster: recording
then goes nowhere, but must not fail)."""

from __future__ import annotations

import time

import pytest

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import AdapterRef, GenerationRequest, GenerationResult
from llm.loading import load_model
from serve_app import metrics

CALCULATE = {
    "type": "function",
    "function": {
        "name": "calculate",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}


class FakeMetric:
    """Stands in for a Ray metric: keeps what was recorded, by labels."""

    def __init__(self) -> None:
        self.values: list[tuple[float, dict[str, str]]] = []

    def inc(self, value: float = 1.0, tags: dict[str, str] | None = None) -> None:
        self.values.append((value, tags or {}))

    observe = inc


@pytest.fixture
def fake(monkeypatch):
    def install(name: str) -> FakeMetric:
        metric = FakeMetric()
        monkeypatch.setattr(metrics, name, metric)
        return metric

    return install


def request(adapter: AdapterRef | None = None) -> GenerationRequest:
    return GenerationRequest(
        messages=[{"role": "user", "content": "hi"}], tools=[CALCULATE], adapter=adapter
    )


def test_adapters_are_labelled_by_name_without_their_registration_version():
    assert metrics.adapter_label(request()) == "base"
    assert metrics.adapter_label(request(AdapterRef("sql@1a2b3c", "/adapters/sql"))) == "sql"


def test_schema_violations_count_calls_of_offered_tools_whose_arguments_break_the_schema():
    calls = [
        {"name": "calculate", "arguments": {"expression": "2 + 2"}},
        {"name": "calculate", "arguments": {"expression": 4}},
        {"name": "calculate", "arguments": {}},
        {"name": "not_offered", "arguments": {"anything": 1}},
    ]
    assert metrics.schema_violations(calls, [CALCULATE]) == 2
    assert metrics.schema_violations(calls, None) == 0


def test_a_generation_records_its_adapter_tokens_failures_formats_and_time_to_first_token(fake):
    ttft, tokens, failures, recovered, violations = (
        fake(name)
        for name in (
            "TIME_TO_FIRST_TOKEN",
            "GENERATED_TOKENS",
            "PARSE_FAILURES",
            "RECOVERED_CALLS",
            "SCHEMA_VIOLATIONS",
        )
    )
    result = GenerationResult(
        text="...",
        content="",
        tool_calls=[{"name": "calculate", "arguments": {"expression": 4}}],
        tool_call_errors=["<tool_call> is not closed"],
        recovered=["json_block"],
        prompt_tokens=30,
        completion_tokens=5,
        first_token_at=101.5,
    )
    metrics.record_generation(request(AdapterRef("sql@v2", "/a")), result, arrived_at=100.0)
    assert ttft.values == [(1.5, {"adapter": "sql", "mode": "batch"})]
    assert tokens.values == [
        (30, {"adapter": "sql", "kind": "prompt"}),
        (5, {"adapter": "sql", "kind": "completion"}),
    ]
    assert failures.values == [(1, {"adapter": "sql"})]
    assert recovered.values == [(1, {"adapter": "sql", "format": "json_block"})]
    assert violations.values == [(1, {"adapter": "sql"})]


def test_zero_counts_are_skipped_as_ray_counters_refuse_them():
    """Recorded into Ray's real metric objects: Counter.inc(0) raises ValueError."""
    empty = GenerationResult(text="", content="", completion_tokens=0)
    metrics.record_generation(request(), empty, arrived_at=time.time())
    metrics.record_step(0, seconds=0.5)
    totals = dict.fromkeys(("hits", "misses", "reused_tokens", "computed_tokens"), 0)
    assert metrics.record_prefix_cache(totals, {}) == totals


def test_prefix_cache_totals_are_exported_as_their_growth():
    first = {"hits": 2, "misses": 1, "reused_tokens": 900, "computed_tokens": 40, "entries": 3}
    assert metrics.prefix_cache_growth(first, {}) == {
        "hits": 2,
        "misses": 1,
        "reused_tokens": 900,
        "computed_tokens": 40,
    }
    recorded = metrics.record_prefix_cache(first, {})
    later = {**first, "hits": 5, "computed_tokens": 45}
    assert metrics.prefix_cache_growth(later, recorded) == {
        "hits": 3,
        "misses": 0,
        "reused_tokens": 0,
        "computed_tokens": 5,
    }


@pytest.mark.parametrize(
    ("name", "error_kind", "labels"),
    [
        ("calculate", None, {"tool": "calculate", "outcome": "ok"}),
        ("calculate", "invalid_arguments", {"tool": "calculate", "outcome": "invalid_arguments"}),
        ("made_up_by_the_model", "unknown_tool", {"tool": "unknown", "outcome": "unknown_tool"}),
        ("write_file", "not_allowed", {"tool": "unknown", "outcome": "not_allowed"}),
    ],
)
def test_tool_calls_keep_only_names_the_registry_vetted(fake, name, error_kind, labels):
    calls = fake("TOOL_CALLS")
    metrics.record_tool_call(name, error_kind)
    assert calls.values == [(1, labels)]


@pytest.fixture(scope="module")
def loaded(tiny_model_dir):
    return load_model(str(tiny_model_dir), None, ModelConfig(device="cpu", cpu_quantization="none"))


def test_generate_batch_notes_when_the_first_new_token_came(loaded):
    before = time.time()
    [result] = generate_batch(
        loaded,
        [GenerationRequest(messages=[{"role": "user", "content": "hello"}], max_new_tokens=3)],
    )
    assert not isinstance(result, Exception)
    assert before < result.first_token_at < time.time()
