"""``python -m train_app.evaluate``: held-out tool-call accuracy of any model, per category.

Loads a model as serving does (a folder, a name from ``llm/model_sources.yaml``, or a LoRA
adapter over its base), generates the held-out rows (the API corpus's held-out providers, and
the configured tools in held-out phrasings; see ``dataset_mix``), and prints strict
and lenient accuracy per category plus the perplexity of written answers; ``--output`` keeps the
whole result as JSON. ``--rows`` scores the rows of a file instead, e.g. a job's
``data/validation.jsonl`` with ``--max-rows`` set to its ``training.eval_max_examples``, so another
model is scored on exactly the rows the job scored. Examples::

    python -m train_app.evaluate --model models/qwen2.5-coder-0.5b-tools --per-category 20
    python -m train_app.evaluate --model models/qwen2.5-coder-0.5b-tools \
        --rows runs/<job>/data/validation.jsonl --max-rows 72
    python -m train_app.evaluate --engine llamacpp --grammar-only --per-category 20
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from configs.atomic_files import atomic_write_text
from configs.serving import ModelServerOptions
from configs.store import DEFAULT_CONFIG_FILE, load_config
from llm.engines import load_engine
from llm.transformers_engine import TransformersEngine
from tools.registry import ToolRegistry
from train_app.dataset_mix import generate_validation
from train_app.evaluation import (
    answer_perplexity,
    evaluate_tool_calls,
    evaluate_with_and_without_grammar,
)
from train_app.train_loop import read_jsonl


def format_table(result: dict) -> str:
    """Strict and lenient accuracy with the tool grammar, and strict without it."""
    free = result.get("without_grammar", {})
    lines = [f"{'category':<17} {'rows':>5} {'strict':>8} {'lenient':>8} {'no grammar':>11}"]
    for name, tally in result["by_category"].items():
        lines.append(
            f"{name:<17} {tally['total']:>5} {tally['accuracy']:>8.1%} "
            f"{tally['lenient_accuracy']:>8.1%} {_percent(free.get('by_category', {}).get(name))}"
        )
    lines.append(
        f"{'overall':<17} {result['total']:>5} {result['accuracy']:>8.1%} "
        f"{result['lenient_accuracy']:>8.1%} {_percent(free.get('accuracy'))}"
    )
    if "answer_perplexity" in result:
        lines.append(f"answer perplexity on held-out questions: {result['answer_perplexity']:.3f}")
    return "\n".join(lines)


def _percent(value: float | None) -> str:
    return f"{value:>11.1%}" if value is not None else f"{'-':>11}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train_app.evaluate", description=__doc__)
    parser.add_argument("--model", help="model folder, adapter folder or name (default: served)")
    parser.add_argument("--per-category", type=int, default=20, help="rows per category")
    parser.add_argument("--seed", type=int, default=1, help="seed of the held-out rows")
    parser.add_argument(
        "--quantization", choices=("none", "int8"), default="none", help="CPU weights"
    )
    parser.add_argument("--rows", type=Path, help="score this JSONL's rows instead of new ones")
    parser.add_argument("--max-rows", type=int, help="only the first N rows (as a job does)")
    parser.add_argument(
        "--grammar-only",
        action="store_true",
        help="score with the tool grammar only, as served (half the time)",
    )
    parser.add_argument(
        "--engine",
        choices=("transformers", "llamacpp"),
        default="transformers",
        help="transformers (fp32, or --quantization int8) or llamacpp (the GGUF as fetched, an "
        "adapter as GGUF LoRA); the answer perplexity needs transformers",
    )
    parser.add_argument("--batch-size", type=int, default=8, help="requests decoded together")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads")
    parser.add_argument("--output", type=Path, help="write the whole result here as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    config = load_config(DEFAULT_CONFIG_FILE)
    model_config = config.model.model_copy(
        update={"cpu_quantization": args.quantization, "engine": args.engine, "device": "cpu"}
    )
    options = ModelServerOptions(max_batch_size=args.batch_size, torch_threads=args.threads)
    engine = load_engine(args.model or config.model.model_path, None, model_config, options)
    data = config.data.model_copy(
        update={"eval_rows_per_category": args.per_category, "eval_seed": args.seed}
    )
    if args.rows:
        rows = read_jsonl(str(args.rows))
    else:
        with ToolRegistry.from_config(config.tools) as registry:
            rows, _ = generate_validation(registry.specs(), data)
    rows = rows[: args.max_rows]
    started = time.perf_counter()
    try:
        if args.grammar_only:
            result = evaluate_tool_calls(engine, rows)
        else:
            result = evaluate_with_and_without_grammar(engine, rows)
        if isinstance(engine, TransformersEngine):  # a torch model to score answers with
            result["answer_perplexity"] = answer_perplexity(
                engine.loaded.model, engine.loaded.tokenizer
            )
    finally:
        engine.close()
    result["seconds"] = round(time.perf_counter() - started, 1)
    result["model"] = args.model or config.model.model_path
    result["engine"] = args.engine
    print(format_table(result))
    print(f"{len(rows)} rows in {result['seconds']:.0f} s")
    if args.output:
        atomic_write_text(args.output, json.dumps(result, ensure_ascii=False, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
