"""Decode speed, warm TTFT and greedy agreement of the llama.cpp engine on the default model's
GGUF (Q4_K_M as fetched), without and with the shipped adapter as a GGUF LoRA.

For each engine (no adapter; the adapter, every request using it):
- decode: aggregate completion tokens per second at concurrency 1 and 8, on warm prompts (seen
  before): the tokens after each reply's first over the time from the first first token to the
  last token, so prefill is left out. The prompts ask for long stories, so every row decodes
  all N (the count is printed);
- warm TTFT: a 1-token reply to a new question after the system prompt and tool list were seen;
  cold prefill: tokens per second of a prompt never seen;
- alone vs beside 7 others (issue 29 item 6): how many of the 8 greedy replies differ between
  decoding alone and decoding together.
Then the greedy replies of llama.cpp (4-bit + GGUF LoRA) and of transformers (the adapter merged
into the fp32 model, as ``load_model`` does before int8) to a few tool prompts, side by side.

Timings repeat ``--repeats`` times and the fastest is kept: the machine is shared, and the slower
repeats measure its other tenants.

    python bench/llamacpp_engine.py [--threads 2] [--tokens 32]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from configs.settings import AppConfig  # noqa: E402
from llm.gguf_files import ensure_gguf  # noqa: E402
from llm.gguf_lora import convert_lora  # noqa: E402
from llm.llamacpp_engine import LlamaCppEngine, LlamaCppSettings, Sampling  # noqa: E402
from llm.model_sources import cached_model_dir  # noqa: E402

BASE = "qwen2.5-coder-0.5b-instruct"
ADAPTER = Path("models/qwen2.5-coder-0.5b-tools")
STORIES = [
    f"Write a long story about {topic}, at least five paragraphs."
    for topic in (
        "a lighthouse keeper",
        "a robot learning to paint",
        "a city under the sea",
        "two rival bakers",
        "a lost dragon",
        "a time-travelling cat",
        "a mountain village",
        "the last library",
    )
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather and a forecast for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "read_file",
            "description": "Read a text file from the workspace",
            "parameters": {
                "type": "object",
                "properties": {"path": {"type": "string"}},
                "required": ["path"],
            },
        },
    },
]
TOOL_QUESTIONS = [
    "What's the weather in Lisbon for the next 3 days?",
    "How much is 1234 * 5678?",
    "Show me what is in notes/todo.md",
    "Hi! Who are you?",
]
WARM_QUESTIONS = ["Is it raining in Oslo?", "What is 17 squared?", "Open README.md please"]


def render(tokenizer, question: str, tools: list | None = None) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}],
        tools=tools,
        add_generation_prompt=True,
        tokenize=False,
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def active(adapter: str | None) -> tuple[str, ...]:
    return (adapter,) if adapter else ()


def decode_rate(engine, prompts, tokens: int, adapter: str | None, repeats: int) -> tuple:
    """Aggregate decode tokens/s of the prompts sent at once (fastest of ``repeats``): tokens
    after each row's first, over the time from the first row's first token to the last row's
    last one (warm prompts: the rows start within a step of each other). Also how many rows
    decoded all ``tokens``."""
    best, full = 0.0, 0
    for _ in range(repeats):
        sampling = Sampling(max_tokens=1 + tokens)
        results = [
            g.result() for g in [engine.submit(p, sampling, active(adapter)) for p in prompts]
        ]
        decoded = sum(r.completion_tokens - 1 for r in results)
        span = max(r.finished_at for r in results) - min(r.first_token_at for r in results)
        best = max(best, decoded / span)
        full = sum(r.completion_tokens == 1 + tokens for r in results)
    return best, full


def serial_replies(engine, prompts, tokens, adapter) -> list[str]:
    return [
        engine.submit(p, Sampling(max_tokens=tokens), active(adapter)).result().text
        for p in prompts
    ]


def together_replies(engine, prompts, tokens, adapter) -> list[str]:
    generations = [engine.submit(p, Sampling(max_tokens=tokens), active(adapter)) for p in prompts]
    return [g.result().text for g in generations]


def measure(engine, tokenizer, adapter: str | None, args) -> list[str]:
    stories = [render(tokenizer, s) for s in STORIES]
    serial_replies(engine, stories, 1, adapter)  # warm: every story's prompt seen once
    c1, full1 = decode_rate(engine, stories[:1], args.tokens, adapter, args.repeats)
    c8, full8 = decode_rate(engine, stories, args.tokens, adapter, args.repeats)
    engine.submit(
        render(tokenizer, "Hello", TOOLS), Sampling(max_tokens=1), active(adapter)
    ).result()
    ttfts = []
    for question in WARM_QUESTIONS:
        prompt = render(tokenizer, question, TOOLS)
        started = time.time()
        reply = engine.submit(prompt, Sampling(max_tokens=1), active(adapter)).result()
        ttfts.append(reply.first_token_at - started)
    cold = render(tokenizer, f"{time.time()}: " + STORIES[0] * 8)
    started = time.time()
    reply = engine.submit(cold, Sampling(max_tokens=1), active(adapter)).result()
    prefill = reply.prompt_tokens / (reply.first_token_at - started)
    alone = serial_replies(engine, stories, args.tokens, adapter)
    beside = together_replies(engine, stories, args.tokens, adapter)
    differ = sum(a != b for a, b in zip(alone, beside, strict=True))
    name = adapter or "none"
    print(f"adapter {name}: decode c=1 {c1:.1f} tok/s ({full1}/1 rows decoded all {args.tokens})")
    print(f"adapter {name}: decode c=8 {c8:.1f} tok/s aggregate ({full8}/8 rows decoded all)")
    print(
        f"adapter {name}: warm TTFT (system prompt + 3 tools cached) min "
        f"{min(ttfts):.3f} s, median {sorted(ttfts)[1]:.3f} s; cold prefill "
        f"{prefill:.0f} tok/s ({reply.prompt_tokens} tokens)"
    )
    print(f"adapter {name}: greedy replies differing alone vs beside 7 others: {differ}/8")
    return [
        engine.submit(
            render(tokenizer, q, TOOLS), Sampling(max_tokens=args.tokens), active(adapter)
        )
        .result()
        .text
        for q in TOOL_QUESTIONS
    ]


def transformers_replies(folder: Path, tokenizer, tokens: int) -> list[str]:
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    model = PeftModel.from_pretrained(model, ADAPTER).merge_and_unload().eval()
    replies = []
    for question in TOOL_QUESTIONS:
        prompt = render(tokenizer, question, TOOLS)
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt]), max_new_tokens=tokens, do_sample=False)
        replies.append(tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True))
    return replies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--tokens", type=int, default=32, help="decoded tokens per timed reply")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--skip-transformers", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cache_dir = AppConfig().model.cache_dir
    gguf_file = ensure_gguf(BASE, cache_dir)
    folder = cached_model_dir(BASE, cache_dir)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with tempfile.TemporaryDirectory() as tmp:
        lora = convert_lora(ADAPTER, Path(tmp) / "tools.gguf", gguf_file).path
        common = {"parallel": 8, "context_per_slot": 2048, "threads": args.threads}
        print(f"{gguf_file.name}, {args.threads} threads, 8 slots (shared machine: see docstring)")
        with LlamaCppEngine(LlamaCppSettings(gguf_path=str(gguf_file), **common)) as engine:
            measure(engine, tokenizer, None, args)
        settings = LlamaCppSettings(
            gguf_path=str(gguf_file), adapters={"tools": str(lora)}, **common
        )
        with LlamaCppEngine(settings) as engine:
            llamacpp = measure(engine, tokenizer, "tools", args)
    if args.skip_transformers:
        return
    reference = transformers_replies(folder, tokenizer, args.tokens)
    same = sum(a == b for a, b in zip(llamacpp, reference, strict=True))
    print(
        f"greedy tool replies, llama.cpp Q4_K_M + GGUF LoRA == transformers fp32 merged: {same}/4"
    )
    for question, ours, theirs in zip(TOOL_QUESTIONS, llamacpp, reference, strict=True):
        print(f"  {question!r}\n    llama.cpp:    {ours!r}\n    transformers: {theirs!r}")


if __name__ == "__main__":
    main()
