"""How often a greedy reply changes when other requests share its batch, per engine (issue 29,
item 6): the same tool-call prompts decoded one at a time, then eight at a time, on
transformers int8 (dynamic int8 takes one activation scale over the whole batch), transformers
fp32 and llama.cpp (the GGUF as fetched, the adapter merged), in one run.

Prompts are generated held-out rows (tools never trained on), sent with their tools and the tool
grammar on, as served; replies are compared as text.

    python bench/batch_invariance.py --rows 16 --tokens 48
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configs.serving import ModelServerOptions  # noqa: E402
from configs.settings import AppConfig  # noqa: E402
from llm.engine import Engine  # noqa: E402
from llm.engines import load_engine  # noqa: E402
from llm.generation import GenerationRequest  # noqa: E402
from llm.tool_grammar import ToolGrammar  # noqa: E402
from train_app.evaluation import first_turn  # noqa: E402
from train_app.tool_rows import generate_eval_rows  # noqa: E402

SETUPS = {
    "int8": ("transformers", "int8"),
    "fp32": ("transformers", "none"),
    "gguf": ("llamacpp", "none"),
}


def replies(engine: Engine, requests: list[GenerationRequest], together: int) -> list[str]:
    texts: list[str] = []
    for start in range(0, len(requests), together):
        chunk = requests[start : start + together]
        futures = [engine.submit(r, threading.Event()) for r in chunk]
        texts += [f.result().text for f in futures]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=16, help="prompts (a multiple of 8)")
    parser.add_argument("--tokens", type=int, default=48, help="reply tokens at most")
    parser.add_argument("--setups", nargs="+", choices=sorted(SETUPS), default=list(SETUPS))
    args = parser.parse_args()
    config = AppConfig()
    categories = ("simple", "multiple", "parallel", "irrelevance")
    rows = generate_eval_rows([], args.rows // len(categories), seed=3, categories=categories)
    requests = []
    for row in rows:
        prompt, _ = first_turn(row)
        functions = tuple(tool["function"] for tool in row["tools"])
        requests.append(
            GenerationRequest(
                messages=prompt,
                tools=row["tools"],
                max_new_tokens=args.tokens,
                repetition_penalty=config.generation.repetition_penalty,
                tool_grammar=ToolGrammar(functions, "auto", True, strict=False),
            )
        )
    for name in args.setups:
        engine_name, quantization = SETUPS[name]
        model_config = config.model.model_copy(
            update={"engine": engine_name, "cpu_quantization": quantization, "device": "cpu"}
        )
        options = ModelServerOptions(max_batch_size=8, torch_threads=2)
        engine = load_engine(model_config.model_path, None, model_config, options)
        try:
            for request in requests:
                engine.prepare_tool_grammar(request, 10.0)
            started = time.perf_counter()
            alone = replies(engine, requests, 1)
            together = replies(engine, requests, 8)
        finally:
            engine.close()
        differ = sum(a != b for a, b in zip(alone, together, strict=True))
        print(
            f"{name} ({engine_name}): {differ} of {len(requests)} greedy replies differ between "
            f"decoding alone and beside 7 others ({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
