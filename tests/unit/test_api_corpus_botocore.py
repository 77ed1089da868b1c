"""botocore service models become tools: read as data from a real model (AWS Price List,
``pricing`` 2017-10-15, from botocore's own data, Apache-2.0), no AWS call made.

Awkward input tried: paginator members (NextToken, MaxResults), a documented example that no
longer validates (its GetProducts example predates ServiceCode being required).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from configs.settings import CorpusConfig
from train_app.api_corpus.botocore_models import load_service, service_entries, service_names

DATA = Path(__file__).resolve().parents[1] / "fixtures" / "api_corpus" / "botocore"


@pytest.fixture(scope="module")
def pricing():
    model, examples, paginators = load_service("pricing", DATA)
    entries, skipped = service_entries("pricing", model, examples, paginators, CorpusConfig())
    assert skipped == {}
    return {entry.operation: entry for entry in entries}


def parameters(entry) -> dict:
    return entry.tool["function"]["parameters"]


def test_services_are_found_in_the_data_folder():
    assert service_names(DATA) == ["pricing"]


def test_each_operation_is_a_tool_with_provenance(pricing):
    assert list(pricing) == [
        "DescribeServices",
        "GetAttributeValues",
        "GetPriceListFileUrl",
        "GetProducts",
        "ListPriceLists",
    ]
    entry = pricing["GetAttributeValues"]
    assert (entry.source, entry.provider, entry.api) == ("botocore", "aws:pricing", "aws:pricing")
    assert entry.api_title == "AWS Price List Service"
    assert entry.api_version == "2017-10-15"
    assert entry.license["name"] == "Apache-2.0"
    assert entry.name == "get_attribute_values"
    assert entry.tool["function"]["description"].startswith("Returns a list of attribute values.")
    for tool in pricing.values():
        Draft202012Validator.check_schema(parameters(tool))


def test_required_members_and_bounds(pricing):
    schema = parameters(pricing["ListPriceLists"])
    assert schema["required"] == ["ServiceCode", "EffectiveDate", "CurrencyCode"]
    assert schema["properties"]["ServiceCode"]["maxLength"] == 32
    assert schema["properties"]["EffectiveDate"]["format"] == "date-time"


def test_paginator_members_are_not_parameters(pricing):
    for operation in ("DescribeServices", "GetAttributeValues", "GetProducts", "ListPriceLists"):
        names = set(parameters(pricing[operation])["properties"])
        assert not names & {"NextToken", "MaxResults"}, operation


def test_nested_structures_keep_their_enums(pricing):
    filters = parameters(pricing["GetProducts"])["properties"]["Filters"]
    assert filters["type"] == "array" and filters["maxItems"] == 50
    item = filters["items"]
    assert item["properties"]["Type"]["enum"] == [
        "TERM_MATCH",
        "EQUALS",
        "CONTAINS",
        "ANY_OF",
        "NONE_OF",
    ]
    assert item["required"] == ["Type", "Field", "Value"]


def test_documented_examples_come_with_their_operation_when_they_validate(pricing):
    entry = pricing["GetAttributeValues"]
    assert entry.examples == [
        {
            "title": "To retrieve a list of attribute values",
            "arguments": {"AttributeName": "volumeType", "ServiceCode": "AmazonEC2"},
        }
    ]
    assert parameters(entry)["properties"]["AttributeName"]["examples"] == ["volumeType"]
    # DescribeServices' example also gave MaxResults, a paginator member: cut away.
    assert pricing["DescribeServices"].examples[0]["arguments"] == {
        "FormatVersion": "aws_v1",
        "ServiceCode": "AmazonEC2",
    }
    # GetProducts' example lacks ServiceCode, which the model now requires: not kept.
    assert pricing["GetProducts"].examples == []
