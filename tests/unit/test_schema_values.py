"""Values drawn from any tool schema, and the verifier that keeps a row only when its call
carries exactly what its request says (as it is, or in a declared conversion)."""

from __future__ import annotations

import random
import uuid

import pytest
from jsonschema import Draft202012Validator

from train_app.schema_rows.spoken import is_said, said_forms
from train_app.schema_rows.values import NoValue, draw
from train_app.schema_rows.verify import FORMATS, row_problem

SCHEMAS = {
    "day": {"type": "string", "format": "date", "description": "Day of the visit"},
    "starts_at": {"type": "string", "format": "date-time"},
    "contact": {"type": "string", "format": "email"},
    "callback": {"type": "string", "format": "uri"},
    "request_id": {"type": "string", "format": "uuid"},
    "cabin": {"type": "string", "enum": ["economy", "premium_economy", "business"]},
    "nights": {"type": "integer", "minimum": 1, "maximum": 14},
    "discount": {"type": "number", "minimum": 0.5, "maximum": 0.9, "multipleOf": 0.05},
    "latitude": {"type": "number"},
    "nonstop": {"type": "boolean"},
    "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 3},
    "code": {"type": "string", "minLength": 3, "maxLength": 3},
    "guests": {
        "type": "object",
        "properties": {
            "adults": {"type": "integer", "minimum": 1},
            "children": {"type": "integer"},
        },
        "required": ["adults"],
    },
    "city": {"type": "string", "description": "City to stay in"},
    "sort": {"type": "string", "examples": ["price_asc", "rating"]},
}


def row(request: str, arguments: dict) -> dict:
    tool = {
        "type": "function",
        "function": {
            "name": "book_hotel",
            "description": "Book a hotel room.",
            "parameters": {
                "type": "object",
                "properties": {name: SCHEMAS[name] for name in arguments},
                "required": list(arguments),
            },
        },
    }
    call = {
        "id": "call_0",
        "type": "function",
        "function": {"name": "book_hotel", "arguments": arguments},
    }
    return {
        "messages": [
            {"role": "user", "content": request},
            {"role": "assistant", "content": "", "tool_calls": [call]},
        ],
        "tools": [tool],
        "category": "simple",
    }


@pytest.mark.parametrize("name", sorted(SCHEMAS))
@pytest.mark.parametrize("language", ["en", "zh"])
def test_drawn_values_respect_type_format_enum_and_range(name, language):
    schema = SCHEMAS[name]
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    rng = random.Random(f"{name}:{language}")
    for _ in range(40):
        said = draw(rng, name, schema, language)
        assert validator.is_valid(said.value), (name, said.value)
        if schema.get("type") == "integer":
            assert isinstance(said.value, int) and not isinstance(said.value, bool)
    if schema.get("format") == "uuid":
        uuid.UUID(said.value)


def test_values_follow_the_parameter_name_and_description():
    rng = random.Random(0)
    assert {draw(rng, "city", SCHEMAS["city"], "zh").value for _ in range(20)} & {"北京", "上海"}
    zones = {draw(rng, "source_timezone", {"type": "string"}, "en").value for _ in range(20)}
    assert all("/" in zone for zone in zones)
    assert all(
        -60 <= draw(rng, "latitude", SCHEMAS["latitude"], "en").value <= 70 for _ in range(20)
    )
    assert {draw(rng, "sort", SCHEMAS["sort"], "en").value for _ in range(30)} & {
        "price_asc",
        "rating",
    }


def test_a_required_pattern_no_pool_matches_is_no_value():
    with pytest.raises(NoValue):
        draw(random.Random(0), "vin", {"type": "string", "pattern": "^[A-HJ-NPR-Z0-9]{17}$"}, "en")


def test_dates_times_and_enums_may_be_said_in_their_declared_forms():
    assert {"December 24, 2026", "2026年12月24日", "24 December 2026"} <= set(
        said_forms("2026-12-24")
    )
    assert {"3:30 PM", "下午3点半"} <= set(said_forms("15:30"))
    assert "premium economy" in said_forms("premium_economy")
    assert is_said("2026-12-24T09:00:00Z", "on December 24, 2026 at 09:00 UTC please")
    assert is_said(12, "for 12 nights") and not is_said(12, "for 120 nights")


def test_verifier_keeps_a_row_whose_call_carries_what_was_said():
    request = "Book economy for December 24, 2026, 3 nights, and write to alice@example.com."
    arguments = {
        "cabin": "economy",
        "day": "2026-12-24",
        "nights": 3,
        "contact": "alice@example.com",
    }
    assert row_problem(row(request, arguments)) is None


def test_verifier_refuses_a_row_whose_value_is_not_in_its_request():
    request = "Book a room in Paris for 3 nights."
    problem = row_problem(row(request, {"city": "London", "nights": 3}))
    assert problem is not None and problem[0] == "value not said"
    assert "London" in problem[1]


def test_verifier_refuses_arguments_that_break_a_format_or_the_schema():
    assert (
        row_problem(row("Book it on 24/12/2026.", {"day": "24/12/2026"}))[0] == "arguments invalid"
    )
    assert row_problem(row("Book for 30 nights.", {"nights": 30}))[0] == "row format"


def test_verifier_takes_declared_conversions_of_the_tool_library():
    text = "What's the weather in Tokyo?"
    assert row_problem(row(text, {"city": "Asia/Tokyo"}))[0] == "value not said"
    assert row_problem(row(text, {"city": "Asia/Tokyo"}), {"Asia/Tokyo": {"Tokyo"}}) is None
