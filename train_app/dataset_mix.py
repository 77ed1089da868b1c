"""The rows a job generates when it is given no dataset: which tools each share of the training
rows offers, the held-out evaluation rows, and a summary of both.

Training rows (``data.num_generated_examples``):

- ``registry_share`` offer the app's own tools: half are the built-in tools' own rows (the
  tool library's templates, results from really running them), half are made from the tools'
  schemas (``schema_rows``), built-in and MCP servers' tools alike, one set per server;
- of the rest, ``corpus_share`` are made from the API corpus's training APIs, and the others
  from the hand-written tool library (retired by default: ``corpus_share`` is 1).

Evaluation rows: with the corpus, ``eval_rows_per_category`` rows of each category on the
corpus's held-out providers, every row of the hand-written sets on them (``handwritten``
requests and ``general`` questions, see ``eval_sets``), plus the app's tools in held-out
phrasings (``registry``); without it, the tool library's held-out tools as before. Every
generated row is verified, refusals are counted; the hand-written calls are checked against
their tools' schemas.
"""

from __future__ import annotations

import asyncio
import logging
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import zip_longest
from typing import Any

from configs.settings import DataConfig
from tools.registry import ToolRegistry
from tools.tool_spec import ToolSpec
from train_app.api_corpus.build import load_split
from train_app.api_corpus.split import CorpusSplit, ToolGroup
from train_app.eval_sets.rows import general_rows, handwritten_rows
from train_app.schema_rows import maker
from train_app.schema_rows.maker import Tally
from train_app.schema_rows.turns import Call, ToolSet
from train_app.schema_rows.verify import row_problem
from train_app.tool_library import load_chat, load_library
from train_app.tool_rows import generate_eval_rows, generate_training_rows

logger = logging.getLogger(__name__)

TEMPLATED_SHARE = 0.5  # of the rows offering the app's tools, those from the library's templates
OVERDRAW = 1.25  # templated rows drawn per row wanted, for the ones the verifier refuses
Spec = ToolSpec | dict[str, Any]


@dataclass
class GeneratedRows:
    train: list[dict[str, Any]]
    validation: list[dict[str, Any]]
    summary: dict[str, Any]


def generate_dataset(
    specs: Sequence[Spec],
    registry: ToolRegistry | None,
    data: DataConfig,
    split: CorpusSplit | None = None,
) -> GeneratedRows:
    """Training and evaluation rows for the app's tools (``specs``, run through ``registry``
    where given) and the corpus (``split``, loaded from ``data.corpus`` when not given)."""
    started = time.monotonic()
    schemas = [_openai(spec) for spec in specs]
    if data.corpus_share > 0 and split is None:
        split = load_split(data.corpus)
    counts = _row_counts(schemas, data)
    train, tally = [], Tally()
    for source, count in counts.items():
        rows, made = _training_rows(source, count, schemas, registry, data, split)
        train += rows
        tally.merge(made)
    random.Random(f"mix:{data.seed}").shuffle(train)
    validation, eval_tally = generate_validation(schemas, data, split)
    summary = {
        "train_rows": len(train),
        "validation_rows": len(validation),
        "rows_by_source": {source: count for source, count in counts.items() if count},
        "train": tally.as_dict(),
        "validation": eval_tally.as_dict(),
        "generation_seconds": round(time.monotonic() - started, 1),
    }
    if split is not None:
        summary["corpus"] = {
            "train_apis": len(split.train),
            "eval_apis": len(split.eval),
            "eval_providers": len(split.eval_providers),
        }
    logger.info("generated %d training and %d evaluation rows", len(train), len(validation))
    return GeneratedRows(train, validation, summary)


def registry_sets(schemas: Sequence[dict[str, Any]]) -> list[ToolSet]:
    """The app's tools as tool sets: one per MCP server (``server__tool``), one of built-ins."""
    sets: dict[str, list[dict[str, Any]]] = {}
    for schema in schemas:
        name = schema["function"]["name"]
        sets.setdefault(name.split("__")[0] if "__" in name else "builtin", []).append(schema)
    return [ToolSet(name, tuple(tools), runs=True) for name, tools in sets.items()]


def corpus_sets(groups: Sequence[ToolGroup]) -> list[ToolSet]:
    """The corpus's APIs as tool sets, with their documented examples."""
    return [
        ToolSet(
            group.api,
            tuple(group.tools),
            {entry.name: tuple(entry.examples) for entry in group.entries if entry.examples},
        )
        for group in groups
    ]


def library_conversions() -> dict[str, set[str]]:
    """The tool library's declared value → words pairs (``Tokyo`` for ``Asia/Tokyo``), so the
    verifier accepts its templated rows."""
    declared: dict[str, set[str]] = {}
    for tool in load_library().values():
        for choices in tool.slots.values():
            for choice in choices if isinstance(choices, list) else ():
                if isinstance(choice, dict) and "value" in choice:
                    words = {str(choice[k]) for k in ("en", "zh") if k in choice}
                    declared.setdefault(str(choice["value"]), set()).update(words)
    return declared


def _openai(spec: Spec) -> dict[str, Any]:
    return spec.openai_schema() if isinstance(spec, ToolSpec) else spec


def _row_counts(schemas: list[dict[str, Any]], data: DataConfig) -> dict[str, int]:
    total = data.num_generated_examples
    registry = round(total * data.registry_share) if schemas else 0
    library = load_library()
    templated_tools = any(s["function"]["name"] in library for s in schemas)
    templated = round(registry * TEMPLATED_SHARE) if templated_tools else 0
    corpus = round((total - registry) * data.corpus_share)
    return {
        "builtin_templates": templated,
        "app_tools": registry - templated,
        "corpus": corpus,
        "tool_library": total - registry - corpus,
    }


def _training_rows(
    source: str,
    count: int,
    schemas: list[dict[str, Any]],
    registry: ToolRegistry | None,
    data: DataConfig,
    split: CorpusSplit | None,
) -> tuple[list[dict[str, Any]], Tally]:
    if count <= 0:
        return [], Tally()
    rng = random.Random(f"train:{source}:{data.seed}")
    questions = [q for q in load_chat() if not q.heldout]
    if source == "app_tools":
        run = _runner(registry) if registry is not None else None
        return maker.training_rows(registry_sets(schemas), count, data, rng, questions, run)
    if source == "corpus":
        assert split is not None
        return maker.training_rows(corpus_sets(split.train), count, data, rng, questions)
    library = load_library()
    templated = [s for s in schemas if s["function"]["name"] in library]
    specs = templated if source == "builtin_templates" else []
    share = 1.0 if source == "builtin_templates" else 0.0
    drawn = data.model_copy(
        update={"num_generated_examples": math.ceil(count * OVERDRAW), "registry_share": share}
    )
    rows = generate_training_rows(specs, registry if specs else None, drawn)
    return _verified(rows, count)


def _verified(
    rows: list[dict[str, Any]], count: int | None = None
) -> tuple[list[dict[str, Any]], Tally]:
    """The first ``count`` rows (all by default) the verifier accepts, of rows the tool
    library's templates made."""
    tally = Tally()
    kept: list[dict[str, Any]] = []
    declared = library_conversions()
    for row in rows:
        if len(kept) == count:
            break
        problem = row_problem(row, declared)
        if problem is not None:
            tally.rejected[problem[0]] += 1
            continue
        kept.append(row)
        tally.rows[row["category"]] += 1
    return kept, tally


def generate_validation(
    specs: Sequence[Spec], data: DataConfig, split: CorpusSplit | None = None
) -> tuple[list[dict[str, Any]], Tally]:
    """The held-out evaluation rows, one category at a time in turn (see the module's
    docstring); ``split`` is loaded from ``data.corpus`` when the corpus is used and not given."""
    schemas = [_openai(spec) for spec in specs]
    if data.corpus_share > 0 and split is None:
        split = load_split(data.corpus)
    per_category = data.eval_rows_per_category
    if split is None:
        return _verified(generate_eval_rows(schemas, per_category, data.eval_seed))
    rng = random.Random(f"eval:{data.eval_seed}")
    questions = [q for q in load_chat() if q.heldout]
    rows, tally = maker.eval_rows(corpus_sets(split.eval), per_category, rng, questions)
    handwritten = handwritten_rows(split)
    rng.shuffle(handwritten)  # the file is in provider order; a job scores the first N rows
    written = handwritten + general_rows(split, rng)
    tally.rows.update(row["category"] for row in written)
    rows += written
    if schemas:
        registry_rows = generate_eval_rows(schemas, per_category, data.eval_seed, ("registry",))
        kept, made = _verified(registry_rows, per_category)
        rows += kept
        tally.merge(made)
    return _round_robin(rows), tally


def _round_robin(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows one category at a time in turn, so the first N of them cover every category."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_category.setdefault(row["category"], []).append(row)
    return [row for turn in zip_longest(*by_category.values()) for row in turn if row is not None]


def _runner(registry: ToolRegistry) -> maker.Runner:
    """Fills calls' results by running the tools (generation runs outside any event loop)."""

    def run(calls: list[Call]) -> None:
        outcomes = asyncio.run(registry.execute_many([(c.name, c.arguments) for c in calls]))
        for call, outcome in zip(calls, outcomes, strict=True):
            call.result, call.error = outcome.result, (None if outcome.ok else outcome.error)
            call.has_result = True

    return run
