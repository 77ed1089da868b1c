"""Tool-call accuracy of the default model in fp32 vs dynamic int8 on the same held-out rows.

Rows are the generated dataset's validation side for the built-in tools (held-out phrasings and
values, a share with no fitting tool); both models read calls in the configured formats. Prints
exact accuracy, right-tool accuracy and the wall time of each, and int8's ratio to fp32.

    python bench/quantization_accuracy.py --rows 48
"""

from __future__ import annotations

import argparse
import time

import torch

from configs.settings import AppConfig
from llm.loading import load_model
from tools.registry import ToolRegistry
from train_app.dataset_generation import generate_dataset
from train_app.evaluation import evaluate_tool_calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=48, help="held-out rows scored per model")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    config = AppConfig()
    with ToolRegistry.from_config(config.tools) as registry:
        _, rows = generate_dataset(
            registry.specs(), registry, num_examples=args.rows * 10, validation_split=0.1, seed=0
        )
    rows = rows[: args.rows]
    scores = {}
    for quantization in ("none", "int8"):
        model_config = config.model.model_copy(update={"cpu_quantization": quantization})
        loaded = load_model(model_config.model_path, None, model_config)
        started = time.perf_counter()
        scores[quantization] = evaluate_tool_calls(loaded, rows, batch_size=8)
        seconds = time.perf_counter() - started
        score = scores[quantization]
        print(
            f"{quantization:>4}: exact {score['accuracy']:.1%}, right tool "
            f"{score['tool_name_accuracy']:.1%} on {score['total']} rows in {seconds:.0f} s; "
            f"by tool { ({k: v['accuracy'] for k, v in score['by_tool'].items()}) }",
            flush=True,
        )
        scores[quantization]["seconds"] = seconds
        del loaded
    fp32, int8 = scores["none"], scores["int8"]
    print(
        f"int8 / fp32: exact accuracy {int8['accuracy'] - fp32['accuracy']:+.1%} points, "
        f"time {int8['seconds'] / fp32['seconds']:.2f}x"
    )


if __name__ == "__main__":
    main()
