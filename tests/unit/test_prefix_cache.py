"""The prefix KV cache: requests that share a prompt prefix reuse its keys and values and get
exactly the tokens they would get without the cache, alone or batched, with or without adapters."""

from __future__ import annotations

import pytest
import torch

from configs.settings import ModelConfig
from llm.decode_batch import generate_batch
from llm.generation import (
    AdapterRef,
    GenerationRequest,
    GenerationResult,
)
from llm.loading import attach_adapter, load_model
from llm.prefix_cache import PrefixCache
from tests.lora_adapters import make_lora_adapter

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "calculate",
            "description": "Exact arithmetic on an expression such as 2 + 3 * 4",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    }
]
QUESTIONS = ["计算 15 * 23 的结果", "hello there", "What is 7 * 6? Please use the tool."]


def asks(adapter: AdapterRef | None = None) -> list[GenerationRequest]:
    return [
        GenerationRequest(
            messages=[{"role": "user", "content": text}],
            tools=TOOLS,
            max_new_tokens=12,
            adapter=adapter,
        )
        for text in QUESTIONS
    ]


def texts(loaded, requests) -> list[str]:
    results = generate_batch(loaded, requests)
    assert all(isinstance(r, GenerationResult) for r in results), results
    return [r.text for r in results]


@pytest.fixture(scope="module")
def models(tiny_model_dir):
    def load(cache_mb: int):
        config = ModelConfig(device="cpu", cpu_quantization="none", prefix_cache_mb=cache_mb)
        return load_model(str(tiny_model_dir), None, config)

    return load(0), load(64)


def test_cached_batches_decode_the_same_tokens_as_uncached_ones(models):
    plain, cached = models
    expected = texts(plain, asks())
    assert texts(cached, asks()) == expected  # first pass: only the shared prefix is reused
    before = cached.prefix_cache.stats()
    assert texts(cached, asks()) == expected  # second pass: every prompt is cached whole
    after = cached.prefix_cache.stats()
    assert after["hits"] - before["hits"] == len(QUESTIONS)
    # Only each prompt's last token is computed again, for the logits of the first new token.
    assert after["computed_tokens"] - before["computed_tokens"] == len(QUESTIONS)
    assert after["reused_tokens"] > before["reused_tokens"]


def test_a_new_prompt_reuses_the_shared_system_and_tool_prefix(models):
    _, cached = models
    texts(cached, asks())
    before = cached.prefix_cache.stats()
    ask = GenerationRequest(
        messages=[{"role": "user", "content": "a question never asked"}], tools=TOOLS
    )
    ask.max_new_tokens = 4
    texts(cached, [ask])
    after = cached.prefix_cache.stats()
    reused = after["reused_tokens"] - before["reused_tokens"]
    computed = after["computed_tokens"] - before["computed_tokens"]
    assert reused > 4 * computed  # the tool list is most of the prompt


def test_adapter_rows_keep_their_own_prefixes(tiny_model_dir, tmp_path):
    adapter_dir = make_lora_adapter(tiny_model_dir, tmp_path / "lora", seed=3)
    loaded = {}
    for cache_mb in (0, 64):
        config = ModelConfig(device="cpu", cpu_quantization="none", prefix_cache_mb=cache_mb)
        loaded[cache_mb] = load_model(str(tiny_model_dir), None, config)
    ref = AdapterRef("lora-3", str(adapter_dir))
    for model in loaded.values():
        attach_adapter(model, ref.peft_name, ref.path)
    mixed = asks() + asks(ref)
    expected = texts(loaded[0], mixed)
    assert expected[: len(QUESTIONS)] != expected[len(QUESTIONS) :]  # the adapter matters
    assert texts(loaded[64], mixed) == expected
    assert texts(loaded[64], mixed) == expected


def test_entries_past_the_byte_budget_are_evicted_least_recently_used_first():
    layer = (torch.zeros(1, 2, 10, 4), torch.zeros(1, 2, 10, 4))  # 640 bytes a prefix
    cache = PrefixCache(max_bytes=1500)
    for first in (1, 2, 3):
        cache.put(None, torch.tensor([first] + [0] * 9), [layer])
    assert cache.stats()["entries"] == 2 and cache.stats()["bytes"] <= 1500
    assert cache.longest(None, torch.tensor([1] + [0] * 9))[1] == 0  # the oldest went
    assert cache.longest(None, torch.tensor([3, 0, 0, 5]))[1] == 3
    assert cache.longest("other-adapter", torch.tensor([3, 0, 0]))[1] == 0
    cache.drop_adapter("other-adapter")
    assert cache.stats()["entries"] == 2


def test_a_zero_budget_turns_the_cache_off():
    cache = PrefixCache(0)
    cache.put(None, torch.tensor([1, 2]), [(torch.zeros(1, 1, 2, 1), torch.zeros(1, 1, 2, 1))])
    assert not cache.enabled and cache.stats()["entries"] == 0
