"""The tool grammar as GBNF, for the llama.cpp engine: the reply shape ``tool_grammar`` enforces
with xgrammar, written as a grammar that llama.cpp applies lazily (from ``<tool_call>`` in
``auto``, from the first token for ``required`` or a named function).

xllamacpp's own converter emits an llguidance grammar, which llama.cpp applies from the first
token whatever the trigger, so the tools' JSON schemas are converted here, in the rule shapes of
llama.cpp's json-schema-to-grammar (properties in declared order, optional ones optional; at most
one whitespace character between JSON tokens). Keywords that only narrow a value of the shape
drawn (``pattern``, ``multipleOf``, a number's bounds, ``uniqueItems``, formats other than date,
time, date-time and uuid) are left to the guard that validates calls after decoding; keywords
that change the shape and cannot be written here (``not``, ``if``, ``patternProperties``,
tuples...) raise ToolGrammarError naming the tool. It does not run llama.cpp.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TypeGuard

from llm.tool_grammar import (
    CALL_BODY,
    CALL_CLOSE,
    TOOL_CALL_OPEN,
    ToolGrammar,
    ToolGrammarError,
    call_arguments_schema,
    called_functions,
)

# Larger bounds on lengths and item counts are left to the guard: llama.cpp writes out every
# repetition as a rule, and refuses a grammar past 2 000 of them.
_MAX_REPEAT = 256
_MAX_DIGITS = 16  # of an integer, a fraction or an exponent, as llama.cpp's converter allows
_UNSUPPORTED = frozenset(
    {
        "not",
        "if",
        "then",
        "else",
        "patternProperties",
        "propertyNames",
        "dependentRequired",
        "dependentSchemas",
        "dependencies",
        "unevaluatedProperties",
        "unevaluatedItems",
        "prefixItems",
        "additionalItems",
        "contains",
        "$dynamicRef",
        "$recursiveRef",
    }
)
# Keywords that say nothing about a value: two merged schemas may disagree on them.
_ANNOTATIONS = frozenset(
    {
        "title",
        "description",
        "default",
        "examples",
        "$comment",
        "deprecated",
        "readOnly",
        "writeOnly",
        "$schema",
        "$id",
        "$anchor",
        "$defs",
        "definitions",
    }
)
# Shared rules, added to a grammar when used; the rules of a tool are named 'tool-...'.
_PRIMITIVES = {
    "ws": r"[ \t\n]?",
    "escape": r'"\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})',
    "char": r'[^"\\\x7F\x00-\x1F] | escape',
    "string": r'"\"" char* "\""',
    "natural": r'"0" | [1-9] [0-9]{0,15}',
    "integer": r'"-"? natural',
    "unsigned-number": r'natural ("." [0-9]{1,16})? ([eE] [-+]? [0-9]{1,16})?',
    "number": r'"-"? unsigned-number',
    "boolean": r'"true" | "false"',
    "null": r'"null"',
    "value": r"object | array | string | number | boolean | null",
    "object": r'"{" ws (string ws ":" ws value (ws "," ws string ws ":" ws value)* ws)? "}"',
    "array": r'"[" ws (value (ws "," ws value)* ws)? "]"',
    "date": r'[0-9]{4} "-" ("0" [1-9] | "1" [0-2]) "-" ("0" [1-9] | [12] [0-9] | "3" [01])',
    "time": r'([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9] ":" [0-5] [0-9] ("." [0-9]{1,9})? '
    r'("Z" | [+-] ([01] [0-9] | "2" [0-3]) ":" [0-5] [0-9])',
    "date-time": r'date "T" time',
    "uuid": r'[0-9a-fA-F]{8} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" [0-9a-fA-F]{4} "-" '
    r"[0-9a-fA-F]{12}",
}
_FORMATS = ("date", "time", "date-time", "uuid")
_LITERALS_AND_CLASSES = re.compile(r'"(?:\\.|[^"\\])*"|\[(?:\\.|[^\]\\])*\]')
_QUOTE = r'"\""'


@dataclass(frozen=True)
class GbnfToolGrammar:
    """A tool grammar as llama.cpp takes it: GBNF ``text``, applied from the moment the reply
    writes ``trigger`` (the grammar then matches from the trigger on), or from the first token
    when ``trigger`` is None."""

    text: str
    trigger: str | None


def tool_call_gbnf(grammar: ToolGrammar) -> GbnfToolGrammar:
    """The GBNF of replies under ``grammar``, cached per ``grammar.key()``; raises
    ToolGrammarError naming the tool whose schema it cannot write."""
    return _gbnf(_ByKey(grammar.key(), grammar))


@dataclass(frozen=True)
class _ByKey:
    """A grammar as a cache key: its canonical JSON (the grammar itself is not hashable)."""

    key: str
    grammar: ToolGrammar = field(compare=False)


@lru_cache(maxsize=64)
def _gbnf(keyed: _ByKey) -> GbnfToolGrammar:
    grammar = keyed.grammar
    rules = _Rules()
    call = rules.add("call", " | ".join(rules.call(f) for f in called_functions(grammar)))
    root = f"{_literal(TOOL_CALL_OPEN)} {call}"
    if grammar.parallel:  # blocks one per line, as the chat template writes them
        root += f" ({_literal(chr(10) + TOOL_CALL_OPEN)} {call})*"
    rules.rules["root"] = root
    text = "".join(f"{name} ::= {body}\n" for name, body in rules.rules.items())
    return GbnfToolGrammar(text, TOOL_CALL_OPEN if grammar.choice == "auto" else None)


class _Unsupported(ValueError):
    """A schema this module cannot write as GBNF; the reason, without the tool's name."""


class _Rules:
    """The rules of one grammar, by name (the names unique valid GBNF identifiers)."""

    def __init__(self) -> None:
        self.rules: dict[str, str] = {"root": ""}  # root first; written last
        self.primitive("ws")

    def call(self, function: dict[str, Any]) -> str:
        """The rule of one call of ``function``, from the newline after ``<tool_call>`` to
        ``</tool_call>``."""
        name = function["name"]
        rule = self.reserve("tool-" + _identifier(name))
        try:
            schema = call_arguments_schema(function)
            arguments = _Schema(self, rule, schema).visit(schema, f"{rule}-args")
        except (_Unsupported, RecursionError, OverflowError) as error:
            reason = str(error) if isinstance(error, _Unsupported) else "it nests too deep"
            raise ToolGrammarError(
                f"the parameters schema of tool {name!r} cannot be enforced: {reason}"
            ) from None
        prefix = _literal(CALL_BODY.format(name=json.dumps(name)))
        self.rules[rule] = f"{prefix} {arguments} {_literal(CALL_CLOSE)}"
        return rule

    def primitive(self, name: str) -> str:
        if name not in self.rules:
            body = _PRIMITIVES[name]
            self.rules[name] = body
            for word in re.findall(r"[a-z-]+", _LITERALS_AND_CLASSES.sub(" ", body)):
                if word in _PRIMITIVES:
                    self.primitive(word)
        return name

    def reserve(self, base: str) -> str:
        """A new rule's name from ``base``, kept (empty) until its body is set."""
        name, number = base, 2
        while name in self.rules or name in _PRIMITIVES:
            name, number = f"{base}-{number}", number + 1
        self.rules[name] = ""
        return name

    def add(self, base: str, body: str) -> str:
        """A new rule named after ``base``."""
        name = self.reserve(base)
        self.rules[name] = body
        return name


class _Schema:
    """Writes one tool's arguments schema as rules named from its call's rule."""

    def __init__(self, rules: _Rules, prefix: str, root: Any) -> None:
        self.rules, self.prefix, self.root = rules, prefix, root
        self.refs: dict[str, str] = {}

    def visit(self, schema: Any, name: str) -> str:
        """A GBNF expression (a rule's name, or a sequence) for the JSON values ``schema``
        allows; ``name`` is the base of the rules it adds."""
        if schema is True or schema == {}:
            return self.rules.primitive("value")
        if not isinstance(schema, dict):
            raise _Unsupported(f"{json.dumps(schema)} is not a schema this grammar can write")
        if blocked := sorted(_UNSUPPORTED & schema.keys()):
            raise _Unsupported(f"{blocked[0]!r} is not supported")
        if "$ref" in schema:
            return self._ref(schema, name)
        if "allOf" in schema:
            merged = _without(schema, "allOf")
            for part in schema["allOf"]:
                merged = _merge(merged, part)
            return self.visit(merged, name)
        for key in ("anyOf", "oneOf"):  # oneOf as anyOf: the guard checks that only one fits
            if key in schema:
                rest, options = _without(schema, key), schema[key]
                if not options:
                    raise _Unsupported(f"an empty {key}")
                written = [
                    self.visit(_merge(rest, o), f"{name}-{i}") for i, o in enumerate(options)
                ]
                return self.rules.add(name, " | ".join(written))
        if "const" in schema:
            return _literal(_json(schema["const"]))
        if "enum" in schema:
            if not schema["enum"]:
                raise _Unsupported("an empty enum")
            return self.rules.add(name, " | ".join(_literal(_json(v)) for v in schema["enum"]))
        kind = schema.get("type")
        if isinstance(kind, list):
            if not kind:
                raise _Unsupported("an empty list of types")
            written = [self.visit({**schema, "type": t}, f"{name}-{t}") for t in kind]
            return self.rules.add(name, " | ".join(written))
        if kind is None:
            if {"properties", "additionalProperties", "required"} & schema.keys():
                kind = "object"
            elif "items" in schema:
                kind = "array"
            else:
                return self.rules.primitive("value")
        if kind in ("boolean", "null"):
            return self.rules.primitive(kind)
        writers: dict[str, Any] = {
            "object": self._object,
            "array": self._array,
            "string": self._string,
            "integer": self._integer,
            "number": self._number,
        }
        if not isinstance(kind, str) or kind not in writers:
            raise _Unsupported(f"unknown type {kind!r}")
        return writers[kind](schema, name)

    def _ref(self, schema: dict[str, Any], name: str) -> str:
        ref = schema["$ref"]
        if not isinstance(ref, str) or not (ref == "#" or ref.startswith("#/")):
            raise _Unsupported(f"$ref {ref!r} is not within the schema (#/...)")
        target: Any = self.root
        for part in ref.split("/")[1:]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, dict) and part in target:
                target = target[part]
            elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
                target = target[int(part)]
            else:
                raise _Unsupported(f"$ref {ref!r} points at nothing")
        if schema.keys() - _ANNOTATIONS != {"$ref"}:
            return self.visit(_merge(target, _without(schema, "$ref")), name)
        if ref not in self.refs:  # one rule per target, so recursion refers back to it
            rule = self.rules.reserve(f"{self.prefix}-{_identifier(ref[1:] or 'root')}")
            self.refs[ref] = rule
            body = self.visit(target, rule)
            if body == rule:
                raise _Unsupported(f"$ref {ref!r} refers to nothing but itself")
            self.rules.rules[rule] = body
        return self.refs[ref]

    def _object(self, schema: dict[str, Any], name: str) -> str:
        properties = dict(schema.get("properties") or {})
        required = schema.get("required") or []
        extra = schema.get("additionalProperties", True)  # closed_schema closed what it should
        for key in required:
            if key not in properties:
                if extra is False:
                    raise _Unsupported(f"required key {key!r} is not among the properties")
                properties[key] = extra if isinstance(extra, dict) else {}
        members: list[tuple[str, bool]] = []
        for key, value in properties.items():
            base = f"{name}-{_identifier(key)}"
            pair = f'{_literal(_json(key))} ws ":" ws {self.visit(value, base)}'
            members.append((self.rules.add(f"{base}-kv", pair), key in required))
        extra_kv, more = None, ""
        if extra is not False:
            value = (
                self.visit(extra, f"{name}-extra")
                if isinstance(extra, dict)
                else self.rules.primitive("value")
            )
            pair = f'{self._new_key(list(properties))} ws ":" ws {value}'
            extra_kv = self.rules.add(f"{name}-extra-kv", pair)
            more = f' (ws "," ws {extra_kv})*'

        def after(start: int) -> str:
            """The members from ``start`` on, once one was written (each after a comma)."""
            parts = [
                f'ws "," ws {kv}' if needed else f'(ws "," ws {kv})?'
                for kv, needed in members[start:]
            ]
            return "".join(f" {part}" for part in parts) + more

        # Declared order: the first member written is one of the optional ones before the first
        # required one, or that one; the rest follow it in order.
        firsts = []
        for index, (kv, needed) in enumerate(members):
            firsts.append(kv + after(index + 1))
            if needed:
                break
        else:
            if extra_kv:
                firsts.append(extra_kv + more)
        if not firsts:
            return '"{" ws "}"'
        inner = firsts[0] if len(firsts) == 1 else "(" + " | ".join(firsts) + ")"
        optional = not any(needed for _, needed in members)
        body = f"({inner} ws)?" if optional else f"{inner} ws"
        return self.rules.add(name, f'"{{" ws {body} "}}"')

    def _new_key(self, keys: list[str]) -> str:
        """A JSON string that is none of ``keys``: a key written beside them is another key."""
        char, escape = self.rules.primitive("char"), self.rules.primitive("escape")

        def rest(suffixes: set[str]) -> str:
            firsts = sorted({s[0] for s in suffixes if s})
            options = [
                f"{_class(c)} {rest({s[1:] for s in suffixes if s[:1] == c})}" for c in firsts
            ]
            options.append(f"({_class(''.join(firsts), negate=True)} | {escape}) {char}*")
            group = "(" + " | ".join(options) + ")"
            return group if "" in suffixes else group + "?"

        # Keys that need escaping in JSON are left out: a model does not write them.
        plain = {k for k in keys if not re.search(r'["\\\x00-\x1f\x7f]', k)}
        return f"{_QUOTE} {rest(plain)} {_QUOTE}"

    def _array(self, schema: dict[str, Any], name: str) -> str:
        items = schema.get("items", True)
        if isinstance(items, list):
            raise _Unsupported("items as a list (a tuple) is not supported")
        low, high = _count(schema, "minItems", 0), _count(schema, "maxItems", None)
        if items is False:
            high = 0
        if high is not None and high < low:
            raise _Unsupported("maxItems is below minItems")
        if low > _MAX_REPEAT:
            raise _Unsupported(f"minItems over {_MAX_REPEAT}")
        high = None if high is not None and high > _MAX_REPEAT else high
        if high == 0:
            return '"[" ws "]"'
        item = self.visit(items, f"{name}-item")
        more = _times(max(low - 1, 0), None if high is None else high - 1)
        listed = item if more is None else f'{item} (ws "," ws {item}){more}'
        body = f"({listed} ws)?" if low == 0 else f"{listed} ws"
        return self.rules.add(name, f'"[" ws {body} "]"')

    def _string(self, schema: dict[str, Any], name: str) -> str:
        if schema.get("format") in _FORMATS:
            return f"{_QUOTE} {self.rules.primitive(schema['format'])} {_QUOTE}"
        low, high = _count(schema, "minLength", 0), _count(schema, "maxLength", None)
        if high is not None and high < low:
            raise _Unsupported("maxLength is below minLength")
        if low > _MAX_REPEAT:
            raise _Unsupported(f"minLength over {_MAX_REPEAT}")
        times = _times(low, None if high is not None and high > _MAX_REPEAT else high)
        if times is None:
            return f"{_QUOTE} {_QUOTE}"
        string = f"{_QUOTE} {self.rules.primitive('char')}{times} {_QUOTE}"
        if times in ("", "*", "+", "?"):
            return string
        # A counted repetition is a rule of its own: llama.cpp refuses a sequence whose nested
        # repetitions multiply past 2000 (char{1,255} inside an array's {0,49}).
        return self.rules.add(name, string)

    def _integer(self, schema: dict[str, Any], name: str) -> str:
        low, high = _integer_bounds(schema)
        if low is None and high is None:
            return self.rules.primitive("integer")
        if low is not None and high is not None and low > high:
            raise _Unsupported("no integer lies within its minimum and maximum")
        return _integer_range(low, high)

    def _number(self, schema: dict[str, Any], name: str) -> str:
        floors = [schema.get(k) for k in ("minimum", "exclusiveMinimum")]
        if any(_is_number(f) and f >= 0 for f in floors):  # other bounds: the guard's
            return self.rules.primitive("unsigned-number")
        return self.rules.primitive("number")


def _integer_bounds(schema: dict[str, Any]) -> tuple[int | None, int | None]:
    """The least and greatest integers the bounds allow (draft 4's boolean exclusive ones too)."""
    lows, highs = [], []
    minimum, maximum = schema.get("minimum"), schema.get("maximum")
    above, below = schema.get("exclusiveMinimum"), schema.get("exclusiveMaximum")
    if _is_number(minimum):
        lows.append(math.floor(minimum) + 1 if above is True else math.ceil(minimum))
    if _is_number(above):
        lows.append(math.floor(above) + 1)
    if _is_number(maximum):
        highs.append(math.ceil(maximum) - 1 if below is True else math.floor(maximum))
    if _is_number(below):
        highs.append(math.ceil(below) - 1)
    return (max(lows) if lows else None), (min(highs) if highs else None)


def _integer_range(low: int | None, high: int | None) -> str:
    """Integers from ``low`` to ``high`` (None: unbounded that way), as a group."""
    options = []
    if low is None or low < 0:  # negative ones: a minus and a magnitude
        least = 1 if high is None or high >= 0 else -high
        options.append(f'"-" {_natural_range(least, None if low is None else -low)}')
    if high is None or high >= 0:
        options.append(_natural_range(0 if low is None else max(low, 0), high))
    return "(" + " | ".join(options) + ")"


def _natural_range(low: int, high: int | None) -> str:
    """Naturals from ``low`` to ``high`` in decimal without leading zeros (None: any number of
    digits up to _MAX_DIGITS), as a group."""
    first = str(low)
    if high is None:
        options = [_same_length(first, "9" * len(first))]
        if len(first) < _MAX_DIGITS:
            options.append(f"[1-9] [0-9]{{{len(first)},{_MAX_DIGITS - 1}}}")
    else:
        last = str(high)
        options = [
            _same_length(
                first if digits == len(first) else "1" + "0" * (digits - 1),
                last if digits == len(last) else "9" * digits,
            )
            for digits in range(len(first), len(last) + 1)
        ]
    return "(" + " | ".join(options) + ")"


def _same_length(low: str, high: str) -> str:
    """Digit strings of one length from ``low`` to ``high``, as a sequence or a group."""
    if low == high:
        return _literal(low)
    if low[0] == high[0]:
        return f"{_literal(low[0])} {_same_length(low[1:], high[1:])}"
    rest = len(low) - 1
    options = []
    first, last = int(low[0]), int(high[0])
    if low[1:] != "0" * rest:  # from low to the end of its first digit's run
        options.append(f"{_literal(low[0])} {_same_length(low[1:], '9' * rest)}")
        first += 1
    cut = high[1:] != "9" * rest
    last -= cut
    if first <= last:
        digits = f" [0-9]{{{rest}}}" if rest > 1 else " [0-9]" * rest
        options.append(f"[{first}-{last}]{digits}")
    if cut:  # from the start of high's first digit's run to high
        options.append(f"{_literal(high[0])} {_same_length('0' * rest, high[1:])}")
    return options[0] if len(options) == 1 else "(" + " | ".join(options) + ")"


def _times(low: int, high: int | None) -> str | None:
    """The GBNF repetition of ``low`` to ``high`` times (None: no limit); None for none at all."""
    if high == 0:
        return None
    if high is None:
        return {0: "*", 1: "+"}.get(low, f"{{{low},}}")
    if low == high:
        return "" if low == 1 else f"{{{low}}}"
    return "?" if (low, high) == (0, 1) else f"{{{low},{high}}}"


def _count(schema: dict[str, Any], key: str, default: int | None) -> Any:
    value = schema.get(key, default)
    if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise _Unsupported(f"{key} must be a non-negative integer, not {value!r}")
    return value


def _merge(schema: Any, other: Any) -> dict[str, Any]:
    """One schema meaning both (allOf, or anyOf's branch with its siblings), when no keyword
    that constrains values is set differently in the two."""
    if schema is True or other is True:
        return {} if schema is True and other is True else (other if schema is True else schema)
    if not isinstance(schema, dict) or not isinstance(other, dict):
        raise _Unsupported(f"cannot combine {json.dumps(schema)} with {json.dumps(other)}")
    clash = sorted(k for k in schema.keys() & other.keys() - _ANNOTATIONS if schema[k] != other[k])
    if clash:
        raise _Unsupported(f"combined schemas (allOf, anyOf) that both set {clash[0]!r}")
    return {**schema, **other}


def _without(schema: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _json(value: Any) -> str:
    """A value as the chat template writes it (transformers' tojson)."""
    return json.dumps(value, ensure_ascii=False)


def _identifier(text: str) -> str:
    """A GBNF rule name's part from any text: letters, digits and dashes."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "x"


def _literal(text: str) -> str:
    """A GBNF string literal for ``text``."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char == "\n":
            escaped.append("\\n")
        elif char < " " or char == "\x7f":
            escaped.append(f"\\x{ord(char):02X}")
        else:
            escaped.append(char)
    return '"' + "".join(escaped) + '"'


def _class(chars: str, negate: bool = False) -> str:
    """A GBNF character class of ``chars`` (or, negated, of any JSON string character else)."""
    escaped = "".join(c if c.isascii() and c.isalnum() else _hex(c) for c in chars)
    return rf'[^"\\\x7F\x00-\x1F{escaped}]' if negate else f"[{escaped}]"


def _hex(char: str) -> str:
    code = ord(char)
    return (
        f"\\x{code:02X}"
        if code < 0x100
        else f"\\u{code:04X}"
        if code < 0x10000
        else f"\\U{code:08X}"
    )
