"""The rows a job generates: the app's tools, the corpus's training APIs and never a held-out
provider's, evaluation rows from the held-out providers (generated and hand-written), and a
summary of what was refused."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from configs.settings import CorpusConfig, DataConfig
from train_app.api_corpus.botocore_models import load_service, service_entries
from train_app.api_corpus.openapi import spec_entries
from train_app.api_corpus.split import held_out, split_corpus
from train_app.dataset_mix import generate_dataset, registry_sets
from train_app.dataset_validation import validate_rows
from train_app.eval_sets.rows import load_general_questions
from train_app.evaluation import CATEGORIES
from train_app.schema_rows.verify import row_problem

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "api_corpus"
PROVIDERS = ("rbaskets.in", "nexmo.com", "aws:pricing")
CLOCK = {
    "type": "function",
    "function": {
        "name": "clock__now",
        "description": "Get the current time in a timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string", "description": "IANA timezone"}},
            "required": ["timezone"],
        },
    },
}


def corpus_entries(config: CorpusConfig):
    entries = []
    for name, api in (
        ("rbaskets.in.json", "rbaskets.in"),
        ("nexmo.com/application.json", "nexmo.com/application"),
    ):
        document = json.loads((FIXTURES / "openapi" / name).read_text(encoding="utf-8"))
        entries += spec_entries(document, api, config)[0]
    model, examples, paginators = load_service("pricing", FIXTURES / "botocore")
    return entries + service_entries("pricing", model, examples, paginators, config)[0]


@pytest.fixture(scope="module")
def split():
    """The fixtures' three providers, one of them held out (the first seed that does so)."""
    share = 0.34
    seed = next(s for s in range(200) if sum(held_out(p, share, s) for p in PROVIDERS) == 1)
    config = CorpusConfig(eval_provider_share=share, split_seed=seed)
    return split_corpus(corpus_entries(config), config)


@pytest.fixture(scope="module")
def generated(split):
    data = DataConfig(num_generated_examples=80, eval_rows_per_category=3, registry_share=0.25)
    return generate_dataset([CLOCK], None, data, split)


def offered_tools(rows):
    return [tool["function"] for row in rows for tool in row["tools"]]


def test_no_held_out_providers_tool_is_in_a_training_row(split, generated):
    assert len(split.eval_providers) == 1
    held = {
        json.dumps(t["function"]["parameters"], sort_keys=True) + t["function"]["description"]
        for g in split.eval
        for t in g.tools
    }
    trained = {
        json.dumps(f["parameters"], sort_keys=True) + f["description"]
        for f in offered_tools(generated.train)
    }
    assert trained and not held & trained  # masked names too: compared by description and schema


def test_evaluation_rows_offer_held_out_providers_tools_and_the_apps(split, generated):
    held = {t["function"]["description"] for g in split.eval for t in g.tools}
    for row in generated.validation:
        descriptions = {t["function"]["description"] for t in row["tools"]}
        if row["category"] == "registry":
            assert descriptions == {CLOCK["function"]["description"]}
        else:
            assert descriptions <= held, row["category"]
    counts = Counter(row["category"] for row in generated.validation)
    # Every hand-written question; no hand-written request: the fixtures hold none of their APIs.
    assert counts.pop("general") == len(load_general_questions().all())
    assert set(counts) == set(CATEGORIES) - {"handwritten", "general"}
    assert all(count == 3 for count in counts.values())


def test_every_generated_row_is_valid_and_verified(generated):
    assert len(generated.train) == 80
    assert not validate_rows(generated.train + generated.validation, [])
    assert all(row_problem(row) is None for row in generated.train + generated.validation)


def test_summary_counts_rows_by_source_and_category_and_refusals(generated):
    summary = generated.summary
    assert summary["rows_by_source"] == {"app_tools": 20, "corpus": 60}
    assert sum(summary["train"]["rows"].values()) == 80
    assert isinstance(summary["train"]["rejected"], dict)
    assert summary["corpus"]["eval_providers"] == 1


def test_mcp_servers_tools_are_one_set_each_and_run():
    sets = registry_sets([CLOCK, {**CLOCK, "function": {**CLOCK["function"], "name": "calculate"}}])
    assert [(s.name, len(s.tools), s.runs) for s in sets] == [
        ("clock", 1, True),
        ("builtin", 1, True),
    ]
