"""Held-out tool-call accuracy of a model in fp32 vs dynamic int8, on the same rows, in one run.

Rows are the held-out evaluation rows (tools never trained on, and the built-in tools in held-out
phrasings); prints strict and lenient accuracy per category and the wall time of each, and
int8's difference to fp32. Pass the shipped adapter to measure what serving runs by default.

    python bench/quantization_accuracy.py --model models/qwen2.5-coder-0.5b-tools --per-category 10
"""

from __future__ import annotations

import argparse
import time

import torch

from configs.settings import AppConfig
from llm.loading import load_model
from tools.registry import ToolRegistry
from train_app.evaluate import format_table
from train_app.evaluation import evaluate_tool_calls
from train_app.tool_rows import generate_eval_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="model or adapter (default: the served)")
    parser.add_argument("--per-category", type=int, default=10, help="rows per category")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = AppConfig()
    with ToolRegistry.from_config(config.tools) as registry:
        rows = generate_eval_rows(registry.specs(), args.per_category, seed=1)
    scores = {}
    for quantization in ("none", "int8"):
        model_config = config.model.model_copy(update={"cpu_quantization": quantization})
        loaded = load_model(args.model or model_config.model_path, None, model_config)
        started = time.perf_counter()
        score = evaluate_tool_calls(loaded, rows, batch_size=8)
        score["seconds"] = time.perf_counter() - started
        scores[quantization] = score
        print(f"{quantization}: {score['seconds']:.0f} s\n{format_table(score)}", flush=True)
        del loaded
    fp32, int8 = scores["none"], scores["int8"]
    print(
        f"int8 - fp32: strict {int8['accuracy'] - fp32['accuracy']:+.1%} points, lenient "
        f"{int8['lenient_accuracy'] - fp32['lenient_accuracy']:+.1%} points; "
        f"time {int8['seconds'] / fp32['seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
