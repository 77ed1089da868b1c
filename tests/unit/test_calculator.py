"""calculate: exact arithmetic on numbers and operators only, refusing everything else."""

from __future__ import annotations

import pytest

from tools.builtin.calculator import MAX_EXPRESSION_CHARS, calculate
from tools.errors import ToolInputError


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("2 + 3 * 4", 14),
        ("(2 + 3) * 4", 20),
        ("2 ** 3 ** 2", 512),
        ("-2 ** 2", -4),
        ("(-2) ** 2", 4),
        ("7 // 2", 3),
        ("-7 // 2", -4),
        ("7 % 3", 1),
        ("-7 % 3", 2),
        ("7 / 2", 3.5),
        ("1 / 3 * 3", 1),
        ("0.1 + 0.2", 0.3),
        ("2 ** -2", 0.25),
        ("4 ** 0.5", 2),
        ("--3", 3),
        ("+5 - -5", 10),
        ("15 * 23", 345),
        ("1_000 * 2.5", 2500),
        ("2 ** 100", 2**100),
    ],
)
def test_evaluates_exactly_with_python_precedence(expression, expected):
    result = calculate(expression)
    assert result == expected
    assert type(result) is type(expected)


def test_whole_results_are_ints_and_others_floats():
    assert isinstance(calculate("6 / 3"), int)
    assert isinstance(calculate("1 / 3"), float)
    assert calculate("2 ** 0.5") == pytest.approx(1.41421356)


@pytest.mark.parametrize(
    ("expression", "named"),
    [
        ("__import__('os')", "function calls"),
        ("__import__('os').system('true')", "function calls"),
        ("().__class__", "attribute access"),
        ("(1).__class__", "attribute access"),
        ("x + 1", "names"),
        ("abs(-1)", "function calls"),
        ("'a' * 3", "strings"),
        ("lambda: 1", "lambda"),
        ("[1, 2][0]", "subscripts"),
        ("[x for x in (1, 2)]", "comprehensions"),
        ("1 < 2", "comparisons"),
        ("1 if 1 else 2", "conditional"),
        ("True + 1", "bool"),
        ("2j", "complex"),
        ("3 & 1", "'&'"),
        ("(y := 2)", "assignments"),
    ],
)
def test_refuses_anything_but_arithmetic_and_names_it(expression, named):
    with pytest.raises(ToolInputError, match="not allowed") as error:
        calculate(expression)
    assert named in str(error.value)


@pytest.mark.parametrize(
    "expression", ["9**9**9", "9**9**9**9", "10**100000", "2**-5000", "2 ** (10**300 * 10**300)"]
)
def test_refuses_huge_exponents_before_computing(expression):
    with pytest.raises(ToolInputError, match="exponent"):
        calculate(expression)


def test_refuses_results_beyond_the_size_limit():
    with pytest.raises(ToolInputError, match="bits"):
        calculate("(10 ** 100) ** 500")
    with pytest.raises(ToolInputError, match="bits"):
        calculate(" * ".join(["2 ** 1000"] * 12))


@pytest.mark.parametrize("expression", ["1 / 0", "1 // 0", "5 % 0", "0 ** -1"])
def test_division_by_zero_is_an_input_error(expression):
    with pytest.raises(ToolInputError, match="division by zero"):
        calculate(expression)


@pytest.mark.parametrize("expression", ["", "2 +", "import os", "1; 2", "(-8) ** (1 / 3)", "1e400"])
def test_refuses_malformed_or_unrepresentable_input(expression):
    with pytest.raises(ToolInputError):
        calculate(expression)


def test_refuses_overlong_and_deeply_nested_input():
    with pytest.raises(ToolInputError, match="longer than"):
        calculate("1 + " * MAX_EXPRESSION_CHARS + "1")
    with pytest.raises(ToolInputError):
        calculate("(" * 240 + "1" + ")" * 240)
