"""Exact arithmetic on an expression the model wrote, without eval: only numbers and operators."""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable
from fractions import Fraction
from typing import Annotated

from pydantic import Field

from tools.errors import ToolInputError

MAX_EXPRESSION_CHARS = 500
MAX_EXPONENT = 1000
# Stays well inside Python's 4300-digit int-to-str limit, so any result can be sent as JSON.
MAX_RESULT_BITS = 10_000

_BINARY: dict[type[ast.operator], Callable[[Fraction, Fraction], Fraction]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_UNARY: dict[type[ast.unaryop], Callable[[Fraction], Fraction]] = {
    ast.UAdd: operator.pos,
    ast.USub: operator.neg,
}
_OPERATOR_SYMBOLS: dict[type[ast.AST], str] = {
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.BitXor: "^",
    ast.LShift: "<<",
    ast.RShift: ">>",
    ast.MatMult: "@",
    ast.Invert: "~",
    ast.Not: "not",
}
_REFUSED_NAMES: dict[type[ast.AST], str] = {
    ast.Name: "names",
    ast.Call: "function calls",
    ast.Attribute: "attribute access",
    ast.Subscript: "subscripts",
    ast.Lambda: "lambda",
    ast.ListComp: "comprehensions",
    ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions",
    ast.GeneratorExp: "comprehensions",
    ast.Compare: "comparisons",
    ast.BoolOp: "boolean operators",
    ast.IfExp: "conditional expressions",
    ast.NamedExpr: "assignments",
}


def calculate(
    expression: Annotated[
        str,
        Field(description="Arithmetic with + - * / // % ** and parentheses, e.g. (2 + 3) * 4.5"),
    ],
) -> int | float:
    """Evaluate an arithmetic expression exactly and return its value.

    Fractions keep the arithmetic exact (1/3*3 is 1); the result is an int when it is whole.
    """
    if len(expression) > MAX_EXPRESSION_CHARS:
        raise ToolInputError(f"expression is longer than {MAX_EXPRESSION_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError as error:
        raise ToolInputError(f"not a valid arithmetic expression: {error.msg}") from error
    except (RecursionError, MemoryError, ValueError) as error:
        raise ToolInputError("expression is nested too deeply") from error
    try:
        value = _evaluate(tree.body)
    except ZeroDivisionError as error:
        raise ToolInputError("division by zero") from error
    except RecursionError as error:
        raise ToolInputError("expression is nested too deeply") from error
    if value.denominator == 1:
        return int(value)
    try:
        return float(value)
    except OverflowError as error:
        raise ToolInputError("result is too large to represent") from error


def _evaluate(node: ast.AST) -> Fraction:
    if isinstance(node, ast.Constant):
        return _number(node.value)
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_evaluate(node.operand))
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        return _checked(_power(_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        return _checked(_BINARY[type(node.op)](_evaluate(node.left), _evaluate(node.right)))
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        symbol = _OPERATOR_SYMBOLS.get(type(node.op), type(node.op).__name__)
        raise ToolInputError(f"operator {symbol!r} not allowed: only + - * / // % **")
    what = _REFUSED_NAMES.get(type(node), type(node).__name__)
    raise ToolInputError(f"{what} not allowed: only numbers, + - * / // % ** and parentheses")


def _number(value: object) -> Fraction:
    # bool is an int subclass; True + 1 is not arithmetic a user meant.
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "strings" if isinstance(value, str | bytes) else f"{type(value).__name__} literals"
        raise ToolInputError(f"{kind} not allowed: only numbers, + - * / // % ** and parentheses")
    if isinstance(value, int):
        return Fraction(value)
    if not math.isfinite(value):
        raise ToolInputError("a number literal is too large")
    # From the shortest decimal of the literal: 0.1 is 1/10, not the nearest binary fraction.
    return Fraction(repr(value))


def _power(base: Fraction, exponent: Fraction) -> Fraction:
    """``base ** exponent``, refused before computing when the result would be huge."""
    if abs(exponent) > MAX_EXPONENT:
        raise ToolInputError(f"exponent is beyond ±{MAX_EXPONENT}")
    if exponent.denominator == 1:
        size = max(base.numerator.bit_length(), base.denominator.bit_length())
        if base not in (0, 1, -1) and size * abs(exponent.numerator) > MAX_RESULT_BITS:
            raise ToolInputError(f"result would exceed {MAX_RESULT_BITS} bits")
        return base**exponent.numerator
    if base < 0:
        raise ToolInputError("a negative number to a fractional power is not a real number")
    # A fractional power is irrational in general: compute it in floating point.
    try:
        return Fraction(float(base) ** float(exponent))
    except OverflowError as error:
        raise ToolInputError("result is too large to represent") from error


def _checked(value: Fraction) -> Fraction:
    if max(value.numerator.bit_length(), value.denominator.bit_length()) > MAX_RESULT_BITS:
        raise ToolInputError(f"result would exceed {MAX_RESULT_BITS} bits")
    return value
