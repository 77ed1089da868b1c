"""The llama.cpp engine: greedy replies as transformers gives them, a LoRA adapter per request,
streaming, stop texts, cancel and deadline, grammars, and replies that do not depend on what
else is decoding (on a tiny float32 GGUF; the real model under ``real_model``)."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

from configs.settings import AppConfig
from llm.generation import GenerationCancelledError, GenerationTimeoutError, PromptTooLongError
from llm.gguf_files import ensure_gguf
from llm.gguf_lora import convert_lora
from llm.llamacpp_engine import (
    LlamaCppEngine,
    LlamaCppRequestError,
    LlamaCppSettings,
    Sampling,
)
from llm.model_sources import cached_model_dir
from tests.gguf_models import random_adapter, write_qwen2_gguf

QUESTIONS = [
    "What is the weather in Paris?",
    "Read the file notes.txt",
    "How much is 12 times 7?",
    "Search the web for Ray Serve",
    "What time is it in Tokyo?",
    "List my orders",
    "Translate hello into French",
    "Tell me a joke",
]
BASE = "qwen2.5-coder-0.5b-instruct"
CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


@pytest.fixture(scope="module")
def files(tiny_model_dir, tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("llamacpp")
    adapter = random_adapter(tiny_model_dir, folder / "adapter", seed=3)
    model = write_qwen2_gguf(tiny_model_dir, folder / "tiny.gguf")
    lora = convert_lora(adapter, folder / "adapter.gguf", model).path
    return {"hf": tiny_model_dir, "adapter": adapter, "model": model, "lora": lora}


@pytest.fixture(scope="module")
def engine(files):
    settings = LlamaCppSettings(
        gguf_path=str(files["model"]),
        adapters={"tools": str(files["lora"])},
        parallel=8,
        context_per_slot=512,
        threads=1,
    )
    with LlamaCppEngine(settings) as engine:
        yield engine


@pytest.fixture(scope="module")
def tokenizer(files):
    return AutoTokenizer.from_pretrained(files["hf"])


def prompt_ids(tokenizer, question: str) -> list[int]:
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def transformers_reply(files, tokenizer, prompt: list[int], adapter: bool, tokens: int) -> str:
    model = AutoModelForCausalLM.from_pretrained(files["hf"])
    if adapter:
        model = PeftModel.from_pretrained(model, files["adapter"])
    with torch.no_grad():
        out = model.generate(torch.tensor([prompt]), max_new_tokens=tokens, do_sample=False)
    return tokenizer.decode(out[0, len(prompt) :], skip_special_tokens=True)


def test_greedy_replies_are_transformers_replies_with_and_without_the_adapter(
    engine, files, tokenizer
):
    prompt = prompt_ids(tokenizer, QUESTIONS[0])
    base = engine.submit(prompt, Sampling(max_tokens=16)).result()
    tuned = engine.submit(prompt, Sampling(max_tokens=16), adapters=("tools",)).result()
    assert base.text == transformers_reply(files, tokenizer, prompt, adapter=False, tokens=16)
    assert tuned.text == transformers_reply(files, tokenizer, prompt, adapter=True, tokens=16)
    assert base.text != tuned.text
    assert (base.adapters, tuned.adapters) == ((), ("tools",))
    assert base.prompt_tokens == len(prompt)
    assert base.first_token_at is not None


def test_an_unknown_adapter_is_refused(engine):
    with pytest.raises(ValueError, match="not loaded"):
        engine.submit([1, 2, 3], adapters=("nope",))


def test_a_prompt_back_under_another_adapter_is_not_answered_from_stale_keys(files, tokenizer):
    """One slot, so prompts replace each other in it: P under the base, then Q and P under the
    adapter (llama.cpp's RAM cache would give P's base keys back, llama.cpp#30129)."""
    settings = LlamaCppSettings(
        gguf_path=str(files["model"]),
        adapters={"tools": str(files["lora"])},
        parallel=1,
        context_per_slot=512,
        threads=1,
    )
    first, second = (prompt_ids(tokenizer, q) for q in QUESTIONS[:2])
    with LlamaCppEngine(settings) as engine:
        replies = [
            engine.submit(prompt, Sampling(max_tokens=12), adapters).result().text
            for prompt, adapters in [(first, ()), (second, ("tools",)), (first, ("tools",))]
        ]
        base_again = engine.submit(first, Sampling(max_tokens=12)).result().text
    assert replies[2] == transformers_reply(files, tokenizer, first, adapter=True, tokens=12)
    assert base_again == replies[0]


def test_pieces_stream_in_order_and_make_the_reply(engine, tokenizer):
    heard: list[str] = []
    generation = engine.submit(
        prompt_ids(tokenizer, QUESTIONS[1]), Sampling(max_tokens=12), on_piece=heard.append
    )
    pieces = list(generation)
    assert len(pieces) > 1
    assert "".join(pieces) == generation.result().text
    assert heard == pieces


def test_a_stop_text_ends_the_reply_before_it(engine, tokenizer):
    prompt = prompt_ids(tokenizer, QUESTIONS[0])
    full = engine.submit(prompt, Sampling(max_tokens=16), adapters=("tools",)).result()
    stop = full.text[len(full.text) // 2 :][:6]
    cut = engine.submit(prompt, Sampling(max_tokens=16, stop=(stop,)), adapters=("tools",)).result()
    assert cut.text == full.text[: full.text.index(stop)]
    assert (full.finish_reason, cut.finish_reason) == ("length", "stop")


def test_a_cancelled_reply_stops_and_frees_its_slot(engine, tokenizer):
    prompt = prompt_ids(tokenizer, QUESTIONS[2])
    before = engine.counters()
    generation = engine.submit(prompt, Sampling(max_tokens=400))
    pieces = iter(generation)
    next(pieces)
    generation.cancel()
    with pytest.raises(GenerationCancelledError):
        list(pieces)
    after = engine.counters()
    assert after["cancelled"] == before["cancelled"] + 1
    assert after["running"] == 0
    assert engine.submit(prompt, Sampling(max_tokens=4)).result().completion_tokens == 4


def test_a_deadline_stops_a_reply_or_keeps_it_from_starting(engine, tokenizer):
    prompt = prompt_ids(tokenizer, QUESTIONS[3])
    with pytest.raises(GenerationTimeoutError):
        engine.submit(prompt, Sampling(max_tokens=400), deadline=time.time() + 0.05).result()
    with pytest.raises(GenerationTimeoutError):
        engine.submit(prompt, deadline=time.time() - 1).result()


def test_bad_requests_fail_alone(engine, tokenizer):
    prompt = prompt_ids(tokenizer, QUESTIONS[4])
    running = engine.submit(prompt, Sampling(max_tokens=40))
    too_long = engine.submit(list(range(10, 700)), Sampling(max_tokens=4))
    bad_grammar = engine.submit(prompt, Sampling(grammar="root ::= ("))
    with pytest.raises(PromptTooLongError, match="700|690"):
        too_long.result()
    with pytest.raises(LlamaCppRequestError, match="grammar"):
        bad_grammar.result()
    assert running.result().completion_tokens == 40


def test_a_lazy_grammar_holds_from_its_trigger_on(engine, tokenizer):
    """Text is the model's own until it writes the trigger (here a word of its free reply; the
    real model's test uses <tool_call>); from there the grammar decides every token."""
    prompt = prompt_ids(tokenizer, QUESTIONS[0])
    pieces = list(engine.submit(prompt, Sampling(max_tokens=30), adapters=("tools",)))
    at, trigger = next(
        (i, p)
        for i, p in enumerate(pieces)
        if i > 0
        and len(p) >= 3
        and p.isascii()
        and p.isprintable()
        and p not in "".join(pieces[:i])
    )
    literal = trigger.replace("\\", "\\\\").replace('"', '\\"')
    sampling = Sampling(
        max_tokens=60, grammar=f'root ::= "{literal}" " is sunny."', grammar_trigger=trigger
    )
    reply = engine.submit(prompt, sampling, adapters=("tools",)).result()
    assert reply.text == "".join(pieces[:at]) + trigger + " is sunny."
    assert reply.finish_reason == "stop"  # the grammar was done: only the end of turn was left


def test_a_grammar_without_trigger_holds_from_the_first_token(engine, tokenizer):
    grammar = 'root ::= "Paris" (" is" | " was") " sunny."'
    reply = engine.submit(prompt_ids(tokenizer, QUESTIONS[0]), Sampling(grammar=grammar)).result()
    assert reply.text in ("Paris is sunny.", "Paris was sunny.")


def test_a_seed_repeats_a_sampled_reply(engine, tokenizer):
    prompt = prompt_ids(tokenizer, QUESTIONS[6])
    sampling = Sampling(max_tokens=16, temperature=1.0, top_p=0.9, seed=11)
    replies = {engine.submit(prompt, sampling).result().text for _ in range(3)}
    assert len(replies) == 1


def test_a_reply_is_the_same_alone_or_beside_seven_others(engine, tokenizer):
    """Issue 29 item 6: rows decoding together must not change each other's greedy replies."""
    prompts = [prompt_ids(tokenizer, q) for q in QUESTIONS]
    sampling = Sampling(max_tokens=24)
    alone = [engine.submit(p, sampling).result().text for p in prompts]
    start = threading.Barrier(len(prompts))

    def together(prompt: list[int]) -> str:
        start.wait()
        return engine.submit(prompt, sampling).result().text

    with ThreadPoolExecutor(len(prompts)) as pool:
        beside = list(pool.map(together, prompts))
    assert beside == alone


@pytest.fixture(scope="module")
def real(tmp_path_factory):
    """The default model's GGUF (Q4_K_M) and the shipped adapter as a GGUF LoRA."""
    base = ensure_gguf(BASE, AppConfig().model.cache_dir)
    out = tmp_path_factory.mktemp("real") / "tools.gguf"
    lora = convert_lora(Path("models/qwen2.5-coder-0.5b-tools"), out, base).path
    settings = LlamaCppSettings(
        gguf_path=str(base), adapters={"tools": str(lora)}, parallel=2, context_per_slot=1024
    )
    with LlamaCppEngine(settings) as engine:
        yield engine


@pytest.mark.real_model
def test_the_shipped_adapter_calls_the_tool_where_the_base_writes_json(real):
    tokenizer = AutoTokenizer.from_pretrained(cached_model_dir(BASE, AppConfig().model.cache_dir))
    tools = [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Get the weather for a city",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}},
                    "required": ["city"],
                },
            },
        }
    ]
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What's the weather in Paris?"}],
        tools=tools,
        add_generation_prompt=True,
        tokenize=False,
    )
    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    tuned = real.submit(prompt, Sampling(max_tokens=40), adapters=("tools",)).result()
    base = real.submit(prompt, Sampling(max_tokens=40)).result()
    assert tuned.text == CALL
    assert "<tool_call>" not in base.text
    # Lazily constrained from <tool_call> on: the call is the grammar's, the tag the model's.
    grammar = 'root ::= "<tool_call>\\n{\\"name\\": \\"get_weather\\", \\"arguments\\": ' + (
        '{\\"city\\": \\"" [A-Z] [a-z]* "\\", \\"days\\": " [0-9] "}}\\n</tool_call>"'
    )
    sampling = Sampling(max_tokens=40, grammar=grammar, grammar_trigger="<tool_call>")
    constrained = real.submit(prompt, sampling, adapters=("tools",)).result()
    assert constrained.text.startswith(CALL[: CALL.index("}}")] + ', "days": ')
