"""The operations of botocore's AWS service models made into corpus entries (read as data: no
client is created and nothing calls AWS).

A tool's parameters are the input structure's members, each made from its shape: strings with
enums and length bounds, numbers with their range, timestamps as date-time strings, lists and maps
as arrays and objects, nested structures down to ``MAX_DEPTH`` (a structure met again inside
itself becomes a free-form object). Left out besides ``noise.yaml``'s names: idempotency tokens
(the SDK fills them), optional header members (checksums, conditions) and the members a paginator
pages with. The ``examples-1.json`` inputs of an operation, cut to the tool's parameters and
checked against its schema, come with the entry.
"""

from __future__ import annotations

import functools
from collections import Counter
from pathlib import Path
from typing import Any

import botocore
from botocore.exceptions import DataNotFoundError
from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel, Shape
from jsonschema import Draft202012Validator

from configs.settings import CorpusConfig
from train_app.api_corpus.entries import (
    MAX_DEPTH,
    MAX_ENUM_VALUES,
    MAX_EXAMPLES,
    PARAMETER_DESCRIPTION_CHARS,
    CorpusEntry,
    Parameter,
    Unrepresentable,
    choose_parameters,
    fitted_tool,
)
from train_app.api_corpus.text import short_description

SOURCE = "botocore"
DATA_DIR = Path(botocore.__file__).parent / "data"
LICENSE = {"name": "Apache-2.0", "url": "https://github.com/boto/botocore/blob/develop/LICENSE.txt"}
_SCALARS = {
    "string": "string",
    "character": "string",
    "integer": "integer",
    "long": "integer",
    "byte": "integer",
    "short": "integer",
    "float": "number",
    "double": "number",
    "bigdecimal": "number",
    "biginteger": "integer",
    "boolean": "boolean",
}


@functools.cache
def _loader(data_dir: Path) -> Loader:
    return Loader(extra_search_paths=[str(data_dir)], include_default_search_paths=False)


def service_names(data_dir: Path = DATA_DIR) -> list[str]:
    """The services that have a model in ``data_dir`` (botocore's own data by default)."""
    return list(_loader(data_dir).list_available_services("service-2"))


def load_service(service: str, data_dir: Path = DATA_DIR) -> tuple[dict, dict, dict]:
    """A service's newest model, its examples and its paginators ({} where it has none)."""
    loader = _loader(data_dir)
    found = [loader.load_service_model(service, "service-2")]
    for kind in ("examples-1", "paginators-1"):
        try:
            found.append(loader.load_service_model(service, kind))
        except DataNotFoundError:
            found.append({})
    return found[0], found[1], found[2]


def service_entries(
    service: str, model: dict, examples: dict, paginators: dict, config: CorpusConfig
) -> tuple[list[CorpusEntry], Counter[str]]:
    """The entries of one service and why the operations left out were left out."""
    service_model = ServiceModel(model, service_name=service)
    metadata = model.get("metadata", {})
    pages = paginators.get("pagination", {})
    entries: list[CorpusEntry] = []
    skipped: Counter[str] = Counter()
    for name in service_model.operation_names:
        operation = service_model.operation_model(name)
        if operation.deprecated:
            skipped["deprecated"] += 1
            continue
        description = short_description(operation.documentation, config.max_description_chars)
        description = description or f"The {name} operation."
        try:
            parameters = choose_parameters(
                _parameters(operation, _paging_members(pages.get(name, {})), config),
                config.max_parameters,
            )
            tool = fitted_tool(
                botocore.xform_name(name), description, parameters, config.max_tool_chars
            )
        except Unrepresentable as reason:
            skipped[str(reason)] += 1
            continue
        entries.append(
            CorpusEntry(
                source=SOURCE,
                provider=f"aws:{service}",
                api=f"aws:{service}",
                api_title=str(metadata.get("serviceFullName") or service),
                api_version=str(metadata.get("apiVersion") or ""),
                license=dict(LICENSE),
                operation=name,
                tool=tool,
                examples=_examples(examples.get("examples", {}).get(name, []), tool),
            )
        )
    return entries, skipped


def _paging_members(paginator: dict) -> set[str]:
    found: set[str] = set()
    for key in ("input_token", "limit_key"):
        value = paginator.get(key) or []
        found |= {value} if isinstance(value, str) else set(value)
    return found


def _parameters(
    operation: OperationModel, paging: set[str], config: CorpusConfig
) -> list[Parameter]:
    shape = operation.input_shape
    if shape is None:
        return []
    required = set(shape.required_members)
    found = []
    for name, member in shape.members.items():
        needed = name in required
        if not needed and (
            name in paging
            or member.metadata.get("idempotencyToken")
            or member.serialization.get("location") in ("header", "headers")
        ):
            continue
        try:
            schema = _schema(member, 1, (), config.max_body_properties)
            found.append(Parameter(name, schema, needed))
        except Unrepresentable:
            if needed:
                raise
    return found


def _schema(shape: Shape, depth: int, outer: tuple[str, ...], most: int) -> dict[str, Any]:
    """The JSON schema of a shape; ``outer`` are the structures it lies in (to stop cycles); a
    structure of more than ``most`` members becomes a free-form object."""
    kind = shape.type_name
    if shape.serialization.get("eventstream") or shape.metadata.get("eventstream"):
        raise Unrepresentable("event stream")
    if kind == "blob" and (shape.serialization.get("streaming") or shape.metadata.get("streaming")):
        raise Unrepresentable("file upload")
    out: dict[str, Any] = {}
    if kind in _SCALARS:
        out["type"] = _SCALARS[kind]
    elif kind == "timestamp":
        out.update(type="string", format="date-time")
    elif kind == "blob":
        out.update(type="string", contentEncoding="base64")
    elif kind == "list":
        out["type"] = "array"
    elif kind in ("structure", "map"):
        out["type"] = "object"
    description = short_description(shape.documentation, PARAMETER_DESCRIPTION_CHARS, 1)
    if description:
        out["description"] = description
    enum = getattr(shape, "enum", None) or []
    if enum and len(enum) <= MAX_ENUM_VALUES:
        out["enum"] = list(enum)
    out.update(_bounds(out.get("type"), shape.metadata))
    if depth >= MAX_DEPTH or shape.name in outer:
        return out
    inner = (*outer, shape.name)
    if kind == "list":
        out["items"] = _schema(shape.member, depth + 1, inner, most)
    elif kind == "map":
        out["additionalProperties"] = _schema(shape.value, depth + 1, inner, most)
    elif kind == "structure" and 0 < len(shape.members) <= most:
        out.update(_structure(shape, depth, inner, most))
    return out


def _structure(shape: Shape, depth: int, outer: tuple[str, ...], most: int) -> dict[str, Any]:
    required = set(shape.required_members)
    properties = {}
    for name, member in shape.members.items():
        try:
            properties[name] = _schema(member, depth + 1, outer, most)
        except Unrepresentable:
            if name in required:
                raise
    out: dict[str, Any] = {"properties": properties}
    if shape.metadata.get("union"):
        out.update(minProperties=1, maxProperties=1)
    elif [name for name in shape.required_members if name in properties]:
        out["required"] = [name for name in shape.required_members if name in properties]
    return out


def _bounds(kind: str | None, metadata: dict[str, Any]) -> dict[str, Any]:
    low, high = metadata.get("min"), metadata.get("max")
    names = {
        "string": ("minLength", "maxLength"),
        "array": ("minItems", "maxItems"),
        "integer": ("minimum", "maximum"),
        "number": ("minimum", "maximum"),
    }.get(kind or "")
    if names is None:
        return {}
    out = {}
    if isinstance(low, int | float) and not (names[0] == "minLength" and low == 0):
        out[names[0]] = int(low) if names[0] != "minimum" else low
    if isinstance(high, int | float):
        out[names[1]] = int(high) if names[1] != "maximum" else high
    return out


def _examples(examples: list[dict], tool: dict[str, Any]) -> list[dict[str, Any]]:
    """An operation's documented inputs, cut to the tool's parameters, that validate."""
    schema = tool["function"]["parameters"]
    validator = Draft202012Validator(schema)
    found: list[dict[str, Any]] = []
    for example in examples:
        given = example.get("input") or {}
        arguments = {k: v for k, v in given.items() if k in schema["properties"]}
        if arguments and validator.is_valid(arguments):
            title = str(example.get("title") or example.get("description") or "")
            found.append({"title": title, "arguments": arguments})
    for example in found:  # their values are examples of the parameters too
        for key, value in example["arguments"].items():
            if isinstance(value, str | int | float | bool):
                values = schema["properties"][key].setdefault("examples", [])
                if value not in values and len(values) < MAX_EXAMPLES:
                    values.append(value)
    return found
