"""One mixed-adapter batch (peft ``generate(adapter_names=...)``) against one batch per adapter.

Runs in-process on the tiny model with real peft adapters (random non-zero weights):
    python bench/adapter_batches.py --rows 16 --adapters 3 --new-tokens 16
Rows go round-robin to the base and each adapter; every row decodes exactly --new-tokens tokens
(EOS is ignored), so both sides do the same work. Prints seconds per side and their ratio, and
what attached adapters cost a batch of base-only rows (``__base__``) against the plain model.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from configs.settings import resolve_path
from llm.generation import BASE_ADAPTER


def make_lora_adapter(base: Path, folder: Path, seed: int) -> Path:
    """A real adapter folder with random non-zero weights (its output differs from the base)."""
    torch.manual_seed(seed)
    config = LoraConfig(
        r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "o_proj"], init_lora_weights=False
    )
    get_peft_model(AutoModelForCausalLM.from_pretrained(base), config).save_pretrained(folder)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="tests/fixtures/tiny-qwen2-tools")
    parser.add_argument("--rows", type=int, default=16)
    parser.add_argument("--adapters", type=int, default=3)
    parser.add_argument("--new-tokens", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    base = resolve_path(args.model)
    tokenizer = AutoTokenizer.from_pretrained(base, padding_side="left")
    plain = AutoModelForCausalLM.from_pretrained(base).eval()
    model = AutoModelForCausalLM.from_pretrained(base).eval()
    names = [f"a{i}" for i in range(args.adapters)]
    with tempfile.TemporaryDirectory() as folder:
        for seed, name in enumerate(names, start=1):
            path = str(make_lora_adapter(base, Path(folder) / name, seed))
            if isinstance(model, PeftModel):
                model.load_adapter(path, adapter_name=name)
            else:
                model = PeftModel.from_pretrained(model, path, adapter_name=name)
    model.eval()
    texts = [
        tokenizer.apply_chat_template(
            [{"role": "user", "content": f"hello {i}"}], add_generation_prompt=True, tokenize=False
        )
        for i in range(args.rows)
    ]
    batch = tokenizer(texts, return_tensors="pt", padding=True)
    groups = [BASE_ADAPTER, *names]
    rows = [groups[i % len(groups)] for i in range(args.rows)]
    decode = {
        "max_new_tokens": args.new_tokens,
        "min_new_tokens": args.new_tokens,
        "do_sample": False,
        "pad_token_id": tokenizer.pad_token_id,
    }

    def mixed() -> None:
        model.generate(**batch, adapter_names=rows, **decode)

    def split() -> None:
        for group in groups:
            index = [i for i, name in enumerate(rows) if name == group]
            part = {key: value[index] for key, value in batch.items()}
            model.generate(**part, adapter_names=[group] * len(index), **decode)

    def base_plain() -> None:
        plain.generate(**batch, **decode)

    def base_peft() -> None:
        model.generate(**batch, adapter_names=[BASE_ADAPTER] * args.rows, **decode)

    runs = {"mixed": mixed, "split": split, "base_plain": base_plain, "base_peft": base_peft}
    timings: dict[str, list[float]] = {label: [] for label in runs}
    with torch.inference_mode():
        mixed()  # warm-up
        for _ in range(args.repeats):  # interleaved, so machine load hits all alike
            for label, run in runs.items():
                started = time.perf_counter()
                run()
                timings[label].append(time.perf_counter() - started)
    best = {label: min(values) for label, values in timings.items()}
    print(
        f"{args.rows} rows over base + {args.adapters} adapters, {args.new_tokens} tokens each: "
        f"mixed batch {best['mixed']:.2f}s, one batch per adapter {best['split']:.2f}s "
        f"(best of {args.repeats}); split/mixed = {best['split'] / best['mixed']:.2f}x"
    )
    print(
        f"{args.rows} base-only rows: plain model {best['base_plain']:.2f}s, through the PeftModel "
        f"with the adapters attached {best['base_peft']:.2f}s; "
        f"peft/plain = {best['base_peft'] / best['base_plain']:.2f}x"
    )


if __name__ == "__main__":
    main()
