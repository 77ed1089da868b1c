"""OpenAPI schemas made into the small JSON schemas a tool's parameters carry.

``$ref``s are resolved within the document (a ref that comes back to itself becomes a free-form
object), ``allOf`` parts are merged, a nullable ``oneOf``/``anyOf`` becomes its one real option,
and only what says what a value may be is kept: type, description (one sentence), enum, const,
default, format, bounds, examples, items and properties. Objects deeper than ``MAX_DEPTH`` or with
more than ``max_properties`` properties become free-form objects. A file upload cannot be said in
words: it raises ``Unrepresentable`` for the caller to drop (optional) or give up (required).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from train_app.api_corpus.entries import (
    MAX_DEPTH,
    MAX_ENUM_VALUES,
    MAX_EXAMPLES,
    PARAMETER_DESCRIPTION_CHARS,
    Unrepresentable,
)
from train_app.api_corpus.text import short_description

MAX_OPTIONS = 4  # anyOf/oneOf options kept
_COUNTS = ("minLength", "maxLength", "minItems", "maxItems")
_TYPES = {"string", "integer", "number", "boolean", "array", "object"}


class SchemaReader:
    """Reads the schemas of one OpenAPI document."""

    def __init__(self, document: dict[str, Any], max_properties: int) -> None:
        self.document = document
        self.max_properties = max_properties

    def deref(self, node: Any) -> Any:
        """``node`` with its ``$ref`` chain followed (siblings of a ``$ref`` win, as in 3.1)."""
        seen: set[str] = set()
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if not isinstance(ref, str) or ref in seen:
                return {}
            seen.add(ref)
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            target = self._pointer(ref)
            node = {**target, **siblings} if siblings and isinstance(target, dict) else target
        return node

    def _pointer(self, ref: str) -> Any:
        if not ref.startswith("#/"):
            return {}  # the package bundles external refs; anything left is unreadable
        node: Any = self.document
        for part in ref[2:].split("/"):
            part = unquote(part).replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return {}
        return node

    def flatten(self, node: Any, refs: frozenset[str] = frozenset()) -> tuple[dict, frozenset]:
        """The schema ``node`` stands for, refs followed and ``allOf`` merged, with the refs
        passed through on the way (to stop cycles)."""
        while isinstance(node, dict) and "$ref" in node:
            ref = node["$ref"]
            if ref in refs:
                return {"type": "object"}, refs
            refs = refs | {ref}
            siblings = {key: value for key, value in node.items() if key != "$ref"}
            target = self._pointer(ref) if isinstance(ref, str) else {}
            node = {**target, **siblings} if isinstance(target, dict) else {}
        if not isinstance(node, dict):
            return {}, refs
        if "allOf" in node:
            merged = {key: value for key, value in node.items() if key != "allOf"}
            properties: dict[str, Any] = {}
            required: list[str] = []
            for part in node["allOf"] if isinstance(node["allOf"], list) else []:
                flat, refs = self.flatten(part, refs)
                properties.update(flat.get("properties") or {})
                required += [name for name in flat.get("required") or [] if name not in required]
                for key, value in flat.items():
                    merged.setdefault(key, value)
            properties.update(node.get("properties") or {})
            if properties:
                merged["properties"] = properties
                merged.setdefault("type", "object")
            if required:
                merged["required"] = required
            node = merged
        options = node.get("oneOf") or node.get("anyOf")
        if isinstance(options, list):
            real = [option for option in options if self.deref(option).get("type") != "null"]
            if len(real) == 1:
                rest = {k: v for k, v in node.items() if k not in ("oneOf", "anyOf")}
                flat, refs = self.flatten(real[0], refs)
                node = {**flat, **rest}
        return node, refs

    def clean(self, node: Any, depth: int = 0, refs: frozenset[str] = frozenset()) -> dict:
        """The tool-sized JSON schema of ``node``."""
        schema, refs = self.flatten(node, refs)
        if schema.get("format") == "binary" or schema.get("type") == "file":
            raise Unrepresentable("file upload")
        out: dict[str, Any] = {}
        kind = _type_of(schema)
        if kind:
            out["type"] = kind
        description = short_description(
            schema.get("description") or schema.get("title"), PARAMETER_DESCRIPTION_CHARS, 1
        )
        if description:
            out["description"] = description
        enum = _enum(schema)
        if enum and len(enum) <= MAX_ENUM_VALUES:
            out["enum"] = enum
        for key in ("default", "const"):
            if schema.get(key) is not None:
                out[key] = schema[key]
        if isinstance(schema.get("format"), str):
            out["format"] = schema["format"]
        counts = {key: schema[key] for key in _COUNTS if isinstance(schema.get(key), int)}
        out.update({key: value for key, value in counts.items() if value >= 0})
        out.update(_bounds(schema))
        examples = schema_examples(schema)
        if examples:
            out["examples"] = examples
        options = schema.get("oneOf") or schema.get("anyOf")
        if isinstance(options, list) and depth < MAX_DEPTH and not kind:
            cleaned = [self._option(option, depth, refs) for option in options[:MAX_OPTIONS]]
            out["anyOf"] = [option for option in cleaned if option is not None] or [{}]
        if kind == "array" and depth < MAX_DEPTH and "items" in schema:
            out["items"] = self.clean(schema["items"], depth + 1, refs)
        if kind == "object":
            out.update(self._object(schema, depth, refs))
        return out

    def _option(self, option: Any, depth: int, refs: frozenset[str]) -> dict | None:
        try:
            return self.clean(option, depth + 1, refs)
        except Unrepresentable:
            return None

    def _object(self, schema: dict, depth: int, refs: frozenset[str]) -> dict[str, Any]:
        properties = self.visible_properties(schema)
        if depth >= MAX_DEPTH or not properties or len(properties) > self.max_properties:
            extra = schema.get("additionalProperties")
            if isinstance(extra, dict) and depth < MAX_DEPTH and not properties:
                try:
                    return {"additionalProperties": self.clean(extra, depth + 1, refs)}
                except Unrepresentable:
                    return {}
            return {}
        required = [name for name in schema.get("required") or [] if name in properties]
        cleaned = {}
        for name, value in properties.items():
            try:
                cleaned[name] = self.clean(value, depth + 1, refs)
            except Unrepresentable:
                if name in required:
                    raise
        out: dict[str, Any] = {"properties": cleaned}
        if [name for name in required if name in cleaned]:
            out["required"] = [name for name in required if name in cleaned]
        return out

    def properties_of(self, node: Any) -> tuple[dict[str, Any], list[str], str | None]:
        """A body schema's properties (read-only ones left out), required names and type."""
        schema, _ = self.flatten(node)
        properties = self.visible_properties(schema)
        required = [name for name in schema.get("required") or [] if name in properties]
        return properties, required, _type_of(schema)

    def visible_properties(self, schema: dict) -> dict[str, Any]:
        """Properties a caller may send: not read-only, not deprecated."""
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            return {}
        shown = {}
        for name, value in properties.items():
            target = self.deref(value)
            if isinstance(target, dict) and (target.get("readOnly") or target.get("deprecated")):
                continue
            shown[name] = value
        return shown


def schema_examples(node: dict) -> list[Any]:
    """Example values of a schema or a parameter: 3.1 ``examples`` lists, 3.0 ``example`` and
    parameter-level ``examples`` maps ({name: {value}})."""
    found: list[Any] = []
    examples = node.get("examples")
    if isinstance(examples, list):
        found += examples
    elif isinstance(examples, dict):
        found += [ex["value"] for ex in examples.values() if isinstance(ex, dict) and "value" in ex]
    if "example" in node and node["example"] is not None:
        found.append(node["example"])
    unique: list[Any] = []
    for value in found:
        if value not in unique:
            unique.append(value)
    return unique[:MAX_EXAMPLES]


def _enum(schema: dict) -> list[Any]:
    values = schema.get("enum")
    return [value for value in values if value is not None] if isinstance(values, list) else []


def _type_of(schema: dict) -> str | None:
    kind = schema.get("type")
    if isinstance(kind, list):  # 3.1: ["string", "null"]
        real = [k for k in kind if k != "null"]
        kind = real[0] if len(real) == 1 else None
    if isinstance(kind, str) and kind in _TYPES:
        return kind
    if "properties" in schema or "additionalProperties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    enum = _enum(schema)
    if enum and all(isinstance(value, str) for value in enum):
        return "string"
    return None


def _bounds(schema: dict) -> dict[str, Any]:
    """Numeric bounds in JSON Schema 2020-12 form (3.0's boolean exclusive flags converted)."""
    out: dict[str, Any] = {}
    for low, exclusive in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
        value, flag = schema.get(low), schema.get(exclusive)
        if isinstance(flag, bool):
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[exclusive if flag else low] = value
        else:
            if isinstance(value, int | float) and not isinstance(value, bool):
                out[low] = value
            if isinstance(flag, int | float):
                out[exclusive] = flag
    return out
