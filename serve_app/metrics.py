"""The serving side's Prometheus metrics, through Ray's metrics API, and the functions that record
them where the events happen (ingress, ModelServer, ToolExecutor, tool loop).

Ray exports them from every node's metrics export port with a ``ray_`` prefix and shows them in
the dashboard's Metrics view. Labels stay bounded: routes are templates, tools are the registry's
names, adapters are registered names without their version.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ray.util.metrics import Counter, Gauge, Histogram

from tools.tool_spec import argument_errors

if TYPE_CHECKING:  # the ToolExecutor records here too and needs no torch
    from llm.generation import GenerationRequest, GenerationResult

SECONDS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300]
BASE = "base"  # the adapter label of requests served by the base (or merged) model
UNKNOWN_TOOL = "unknown"  # the tool label of calls the registry did not vet

HTTP_REQUESTS = Counter(
    "mcp_tune_http_requests",
    description="HTTP requests the ingress answered, by route template, method and status.",
    tag_keys=("route", "method", "status"),
)
HTTP_LATENCY = Histogram(
    "mcp_tune_http_request_seconds",
    description="Time from a request reaching the ingress to the end of its answer.",
    boundaries=SECONDS,
    tag_keys=("route", "method", "status"),
)
GENERATIONS = Counter(
    "mcp_tune_generations",
    description="Generations a model replica finished, by adapter and mode (batch or stream).",
    tag_keys=("adapter", "mode"),
)
TIME_TO_FIRST_TOKEN = Histogram(
    "mcp_tune_time_to_first_token_seconds",
    description="From a generation reaching a model replica (its wait for a batch included) "
    "to its first new token.",
    boundaries=SECONDS,
    tag_keys=("adapter", "mode"),
)
GENERATED_TOKENS = Counter(
    "mcp_tune_generation_tokens",
    description="Prompt and completion tokens of finished batched generations.",
    tag_keys=("adapter", "kind"),
)
BATCH_TOKENS_PER_S = Histogram(
    "mcp_tune_batch_tokens_per_second",
    description="New tokens per second of each decode step of the continuous batch (one per "
    "row; the prefill of rows joining at that step included).",
    boundaries=[1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000],
)
BATCH_SIZE = Histogram(
    "mcp_tune_batch_size",
    description="Rows decoded together, per decode step of the continuous batch.",
    boundaries=[1, 2, 4, 8, 16, 32, 64],
)
QUEUE_DEPTH = Gauge(
    "mcp_tune_batch_queue_depth",
    description="Generations waiting on a model replica to join its decode batch.",
)
PREFIX_CACHE_LOOKUPS = Counter(
    "mcp_tune_prefix_cache_lookups",
    description="Prompt-prefix cache lookups of a model replica, by result (hit or miss).",
    tag_keys=("result",),
)
PREFIX_CACHE_TOKENS = Counter(
    "mcp_tune_prefix_cache_tokens",
    description="Prompt tokens whose keys and values came from the prefix cache (reused) or "
    "a forward pass (computed).",
    tag_keys=("source",),
)
TOOL_CALLS = Counter(
    "mcp_tune_tool_calls",
    description="Tool calls by tool and outcome (ok or the error kind; invalid_arguments: the "
    "arguments broke the tool's JSON schema; not_allowed: refused by the chat's allowed tools).",
    tag_keys=("tool", "outcome"),
)
PARSE_FAILURES = Counter(
    "mcp_tune_tool_call_parse_failures",
    description="Tool-call blocks in model replies that could not be read, by adapter.",
    tag_keys=("adapter",),
)
RECOVERED_CALLS = Counter(
    "mcp_tune_tool_calls_recovered",
    description="Tool calls read from JSON a model wrote instead of tags, by adapter and format.",
    tag_keys=("adapter", "format"),
)
SCHEMA_VIOLATIONS = Counter(
    "mcp_tune_tool_call_schema_violations",
    description="Tool calls in model replies whose arguments break the offered tool's JSON "
    "schema, by adapter.",
    tag_keys=("adapter",),
)

# PrefixCache.stats() totals → the counter and labels that the growth of each goes to.
TOOL_GRAMMAR_ROWS = Counter(
    "mcp_tune_tool_grammar_rows",
    description="Generations offered tools, by adapter and whether a tool grammar constrained "
    "them (unconstrained: off, or a grammar that could not compile in auto).",
    tag_keys=("adapter", "grammar"),
)
TOOL_GRAMMAR_GUARD = Counter(
    "mcp_tune_tool_grammar_guard_fired",
    description="Constrained generations whose calls the schema check after decoding still "
    "refused (a grammar bug, or a reply cut by its token budget), by adapter.",
    tag_keys=("adapter",),
)
TOOL_GRAMMAR_COMPILES = Counter(
    "mcp_tune_tool_grammar_compiles",
    description="Tool grammar lookups by result: compiled, cache_hit, failed.",
    tag_keys=("result",),
)
TOOL_GRAMMAR_COMPILE_SECONDS = Counter(
    "mcp_tune_tool_grammar_compile_seconds",
    description="Seconds spent compiling tool grammars.",
)

_PREFIX_CACHE_TOTALS = {
    "hits": (PREFIX_CACHE_LOOKUPS, {"result": "hit"}),
    "misses": (PREFIX_CACHE_LOOKUPS, {"result": "miss"}),
    "reused_tokens": (PREFIX_CACHE_TOKENS, {"source": "reused"}),
    "computed_tokens": (PREFIX_CACHE_TOKENS, {"source": "computed"}),
}


def _inc(counter: Counter, value: float, tags: dict[str, str] | None = None) -> None:
    if value > 0:  # Ray's counters refuse zero
        counter.inc(value, tags)


def record_request(route: str, method: str, status: int, seconds: float) -> None:
    tags = {"route": route, "method": method, "status": str(status)}
    HTTP_REQUESTS.inc(1, tags)
    HTTP_LATENCY.observe(seconds, tags)


def adapter_label(request: GenerationRequest) -> str:
    """The adapter's registered name: its model id also carries a version that changes with
    every registration (serve_app.adapters), which would grow the label set without bound."""
    return request.adapter.model_id.split("@", 1)[0] if request.adapter else BASE


def schema_violations(calls: list[dict[str, Any]], tools: list[dict[str, Any]] | None) -> int:
    """How many ``calls`` of an offered tool have arguments its JSON schema refuses (the schemas
    were checked when the request came in)."""
    schemas = {
        tool["function"]["name"]: tool["function"].get("parameters")
        for tool in tools or ()
        if "function" in tool
    }
    return sum(
        bool(argument_errors(call["arguments"], schemas[call["name"]]))
        for call in calls
        if call["name"] in schemas
    )


def record_generation(
    request: GenerationRequest, result: GenerationResult, arrived_at: float
) -> None:
    """A finished batched generation; ``arrived_at`` is when it reached the replica."""
    adapter = adapter_label(request)
    GENERATIONS.inc(1, {"adapter": adapter, "mode": "batch"})
    if result.first_token_at is not None:
        TIME_TO_FIRST_TOKEN.observe(
            max(result.first_token_at - arrived_at, 0.0), {"adapter": adapter, "mode": "batch"}
        )
    _inc(GENERATED_TOKENS, result.prompt_tokens, {"adapter": adapter, "kind": "prompt"})
    _inc(GENERATED_TOKENS, result.completion_tokens, {"adapter": adapter, "kind": "completion"})
    _inc(PARSE_FAILURES, len(result.tool_call_errors), {"adapter": adapter})
    for name in result.recovered:
        RECOVERED_CALLS.inc(1, {"adapter": adapter, "format": name})
    violations = schema_violations(result.tool_calls, request.tools)
    _inc(SCHEMA_VIOLATIONS, violations, {"adapter": adapter})
    if request.tools and request.tool_calls_allowed:
        grammar = "constrained" if result.constrained else "unconstrained"
        TOOL_GRAMMAR_ROWS.inc(1, {"adapter": adapter, "grammar": grammar})
        if result.constrained and (violations or result.tool_call_errors):
            TOOL_GRAMMAR_GUARD.inc(1, {"adapter": adapter})


def record_tool_grammar(totals: Mapping[str, float], recorded: Mapping[str, float]) -> dict:
    """Add a grammar compiler's growth since ``recorded`` to the counters; returns the totals to
    pass as ``recorded`` next time."""
    for key, result in (
        ("compiled", "compiled"),
        ("cache_hits", "cache_hit"),
        ("failed", "failed"),
    ):
        _inc(TOOL_GRAMMAR_COMPILES, totals[key] - recorded.get(key, 0), {"result": result})
    seconds = totals["compile_seconds"] - recorded.get("compile_seconds", 0.0)
    _inc(TOOL_GRAMMAR_COMPILE_SECONDS, seconds)
    return dict(totals)


def record_stream(request: GenerationRequest, first_piece_s: float | None) -> None:
    """A finished stream; ``first_piece_s``: seconds to its first decoded text, if any came."""
    adapter = adapter_label(request)
    GENERATIONS.inc(1, {"adapter": adapter, "mode": "stream"})
    if first_piece_s is not None:
        TIME_TO_FIRST_TOKEN.observe(first_piece_s, {"adapter": adapter, "mode": "stream"})


def record_step(rows: int, seconds: float) -> None:
    """A decode step of the continuous batch: its rows, and tokens per second (one per row)."""
    BATCH_SIZE.observe(rows)
    if rows and seconds > 0:
        BATCH_TOKENS_PER_S.observe(rows / seconds)


def prefix_cache_growth(totals: Mapping[str, int], recorded: Mapping[str, int]) -> dict[str, int]:
    """What each running total of a prefix cache gained since ``recorded`` (its totals when last
    recorded; empty for a cache never recorded)."""
    return {key: totals[key] - recorded.get(key, 0) for key in _PREFIX_CACHE_TOTALS}


def record_prefix_cache(totals: Mapping[str, int], recorded: Mapping[str, int]) -> dict[str, int]:
    """Add a prefix cache's growth since ``recorded`` to the counters; returns the totals to pass
    as ``recorded`` next time."""
    for key, gained in prefix_cache_growth(totals, recorded).items():
        counter, tags = _PREFIX_CACHE_TOTALS[key]
        _inc(counter, gained, tags)
    return {key: totals[key] for key in _PREFIX_CACHE_TOTALS}


def record_tool_call(name: str, error_kind: str | None) -> None:
    """One tool call's outcome. Its name is kept only where the registry vetted it: an unknown
    tool's or a refused call's name is whatever the model or client wrote."""
    tool = UNKNOWN_TOOL if error_kind in ("unknown_tool", "not_allowed") else name
    TOOL_CALLS.inc(1, {"tool": tool, "outcome": error_kind or "ok"})
