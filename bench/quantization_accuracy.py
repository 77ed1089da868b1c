"""Held-out tool-call accuracy of one model on each engine and weight format, on the same rows, in
one run: transformers fp32, transformers dynamic int8, and llama.cpp on the GGUF as fetched
(4-bit, the adapter as GGUF LoRA).

Rows are a job's held-out rows (``--rows runs/jobs/<job>/data/validation.jsonl``), or generated
held-out rows (the API corpus's held-out providers and the built-in tools in held-out
phrasings); greedy, the tool grammar on, as served. Prints strict and lenient accuracy per
category and the wall time of each, and each format's difference to fp32 per category.

    python bench/quantization_accuracy.py --rows runs/jobs/<job>/data/validation.jsonl --max-rows 96
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configs.serving import ModelServerOptions  # noqa: E402
from configs.settings import AppConfig  # noqa: E402
from llm.engines import load_engine  # noqa: E402
from tools.registry import ToolRegistry  # noqa: E402
from train_app.dataset_mix import generate_validation  # noqa: E402
from train_app.evaluate import format_table  # noqa: E402
from train_app.evaluation import evaluate_tool_calls  # noqa: E402
from train_app.train_loop import read_jsonl  # noqa: E402

FORMATS = {  # name: (model.engine, model.cpu_quantization)
    "fp32": ("transformers", "none"),
    "int8": ("transformers", "int8"),
    "gguf": ("llamacpp", "none"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model or adapter (default: the served)")
    parser.add_argument("--rows", type=Path, help="score this JSONL's rows")
    parser.add_argument("--max-rows", type=int, help="only the first N rows")
    parser.add_argument("--per-category", type=int, default=10, help="generated rows a category")
    parser.add_argument("--formats", nargs="+", choices=sorted(FORMATS), default=list(FORMATS))
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    config = AppConfig()
    if args.rows:
        rows = read_jsonl(str(args.rows))
    else:
        data = config.data.model_copy(update={"eval_rows_per_category": args.per_category})
        with ToolRegistry.from_config(config.tools) as registry:
            rows, _ = generate_validation(registry.specs(), data)
    rows = rows[: args.max_rows]
    options = ModelServerOptions(max_batch_size=8, torch_threads=args.threads)
    scores = {}
    for name in args.formats:
        engine_name, quantization = FORMATS[name]
        model_config = config.model.model_copy(
            update={"engine": engine_name, "cpu_quantization": quantization, "device": "cpu"}
        )
        started = time.perf_counter()
        engine = load_engine(args.model or model_config.model_path, None, model_config, options)
        try:
            score = evaluate_tool_calls(engine, rows)
        finally:
            engine.close()
        score["seconds"] = time.perf_counter() - started
        scores[name] = score
        print(f"{name}: {len(rows)} rows in {score['seconds']:.0f} s\n{format_table(score)}")
    if "fp32" not in scores:
        return
    reference = scores["fp32"]["by_category"]
    for name, score in scores.items():
        if name == "fp32":
            continue
        differences = ", ".join(
            f"{category} {tally['accuracy'] - reference[category]['accuracy']:+.1%}"
            for category, tally in score["by_category"].items()
        )
        overall = score["accuracy"] - scores["fp32"]["accuracy"]
        print(f"{name} - fp32 (strict, points): overall {overall:+.1%}; {differences}")


if __name__ == "__main__":
    main()
