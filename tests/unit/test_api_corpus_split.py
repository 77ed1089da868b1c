"""Curating the corpus (dedupe, caps) and splitting it by provider, on real descriptions.

The same real document published twice under one provider (as GitHub Enterprise copies
api.github.com) or under two providers (as nexmo.com and vonage.com) keeps its operations once;
caps keep a spread; held-out providers never reach training.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path

import pytest

from configs.settings import CorpusConfig
from train_app.api_corpus.botocore_models import load_service, service_entries
from train_app.api_corpus.curate import apply_caps, dedupe
from train_app.api_corpus.openapi import spec_entries
from train_app.api_corpus.split import held_out, split_corpus

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api_corpus"


def document(name: str, provider: str | None = None) -> dict:
    data = json.loads((FIXTURES / "openapi" / name).read_text(encoding="utf-8"))
    if provider:
        data = copy.deepcopy(data)
        data["info"]["x-providerName"] = provider
    return data


@pytest.fixture(scope="module")
def real_entries():
    config = CorpusConfig()
    entries = spec_entries(document("rbaskets.in.json"), "rbaskets.in", config)[0]
    entries += spec_entries(
        document("nexmo.com/application.json"), "nexmo.com/application", config
    )[0]
    model, examples, paginators = load_service("pricing", FIXTURES / "botocore")
    return entries + service_entries("pricing", model, examples, paginators, config)[0]


def test_another_version_of_an_api_is_deduped_within_its_provider():
    config = CorpusConfig()
    nexmo = document("nexmo.com/application.json")
    first = spec_entries(nexmo, "nexmo.com/application", config)[0]
    reworded = copy.deepcopy(nexmo)  # a later version: same operations, other words
    for item in reworded["paths"].values():
        for operation in item.values():
            operation["description"] = "Reworded: " + operation.get("description", "")
    again = spec_entries(reworded, "nexmo.com/application.v1-1", config)[0]
    assert {e.tool["function"]["description"] for e in again}.isdisjoint(
        {e.tool["function"]["description"] for e in first}
    )
    assert dedupe(first + again) == first


def test_one_api_under_two_providers_is_kept_once():
    config = CorpusConfig()
    nexmo = spec_entries(document("nexmo.com/application.json"), "nexmo.com/application", config)[0]
    vonage = spec_entries(
        document("nexmo.com/application.json", "vonage.com"), "vonage.com/application", config
    )[0]
    assert {entry.provider for entry in vonage} == {"vonage.com"}
    assert dedupe(nexmo + vonage) == nexmo


def test_operations_that_differ_are_all_kept(real_entries):
    assert dedupe(real_entries) == real_entries


def test_provider_cap_keeps_a_spread_over_the_providers_apis(real_entries):
    config = CorpusConfig()
    extra = spec_entries(document("rbaskets.in.json", "nexmo.com"), "nexmo.com/baskets", config)[0]
    capped = apply_caps(real_entries + extra, CorpusConfig(max_operations_per_provider=4))
    per_provider = Counter(entry.provider for entry in capped)
    assert per_provider == {"rbaskets.in": 4, "nexmo.com": 4, "aws:pricing": 4}
    # nexmo.com's 4 are taken in turn from its two APIs.
    assert Counter(e.api for e in capped if e.provider == "nexmo.com") == {
        "nexmo.com/application": 2,
        "nexmo.com/baskets": 2,
    }
    # aws:pricing's operations with documented examples come first.
    assert sum(bool(e.examples) for e in capped if e.provider == "aws:pricing") == 2
    # A cap keeps the corpus order and is the same every time.
    assert capped == [e for e in real_entries + extra if e in capped]
    assert capped == apply_caps(real_entries + extra, CorpusConfig(max_operations_per_provider=4))


def test_vendor_cap_limits_all_aws_services_together(real_entries):
    capped = apply_caps(real_entries, CorpusConfig(max_operations_per_vendor=3))
    assert Counter(entry.provider for entry in capped)["aws:pricing"] == 3


def test_no_held_out_provider_is_in_training(real_entries):
    providers = {entry.provider for entry in real_entries}
    # Seeds 0..19: at least one holds out one provider and trains on the others.
    for seed in range(20):
        config = CorpusConfig(eval_provider_share=0.5, split_seed=seed)
        split = split_corpus(real_entries, config)
        train = {group.provider for group in split.train}
        assert not train & split.eval_providers
        assert train | split.eval_providers == providers
        assert all(held_out(p, 0.5, seed) for p in split.eval_providers)
    assert any(
        0
        < len(split_corpus(real_entries, CorpusConfig(eval_provider_share=0.5, split_seed=s)).eval)
        < 3
        for s in range(20)
    )


def test_split_groups_tools_by_api(real_entries):
    split = split_corpus(real_entries, CorpusConfig(eval_provider_share=0.5))
    groups = {group.api: group for group in split.train + split.eval}
    assert set(groups) == {"rbaskets.in", "nexmo.com/application", "aws:pricing"}
    assert [tool["function"]["name"] for tool in groups["aws:pricing"].tools] == [
        "describe_services",
        "get_attribute_values",
        "get_price_list_file_url",
        "get_products",
        "list_price_lists",
    ]


def test_held_out_share_is_close_to_the_setting():
    providers = [f"provider-{number}.example" for number in range(2000)]
    share = sum(held_out(provider, 0.1) for provider in providers) / len(providers)
    assert 0.08 < share < 0.12
    assert held_out("twilio.com", 0.1) == held_out("twilio.com", 0.1)
