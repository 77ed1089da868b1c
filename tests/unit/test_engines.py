"""Both engines behind one interface give the same answers: the same greedy reply and parsed
calls, grammars that hold on both, streams that add up to the reply, cancel and deadlines, and
adapters attached while requests decode (on the tiny trained model, as safetensors and as a
float32 GGUF). ``model.engine: auto`` picks llama.cpp for a folder with a GGUF on a CPU.

Bad input tried on each engine: a prompt longer than max_length, a request past its deadline,
one cancelled before it starts, a strict grammar for a schema no grammar can enforce; and
``model.engine: llamacpp`` for a folder without a GGUF.
"""

from __future__ import annotations

import shutil
import threading
import time

import jsonschema
import pytest
import torch

from configs.serving import ModelServerOptions
from configs.settings import ModelConfig
from llm import llamacpp_engine
from llm.engines import engine_for, load_engine
from llm.errors import ModelLoadError
from llm.generation import (
    AdapterRef,
    GenerationCancelledError,
    GenerationRequest,
    GenerationTimeoutError,
    PromptTooLongError,
)
from llm.llamacpp_model import GGUF_IN_FOLDER
from llm.tool_gbnf import GbnfToolGrammar
from llm.tool_grammar import ToolGrammar, ToolGrammarError
from tests.gguf_models import random_adapter, write_qwen2_gguf
from tests.tiny_model import TRAINED_TINY_MODEL

ENGINES = ("transformers", "llamacpp")
OPTIONS = ModelServerOptions(max_batch_size=4, torch_threads=1)
CALCULATE = {
    "name": "calculate",
    "description": "Evaluate an arithmetic expression.",
    "parameters": {
        "type": "object",
        "properties": {"expression": {"type": "string"}},
        "required": ["expression"],
    },
}
CLOCK = {
    "name": "get_current_time",
    "description": "The current time in a timezone.",
    "parameters": {
        "type": "object",
        "properties": {"timezone": {"type": "string", "enum": ["Asia/Tokyo", "Europe/Paris"]}},
        "required": ["timezone"],
    },
}
TOOLS = [{"type": "function", "function": f} for f in (CALCULATE, CLOCK)]
QUESTIONS = ["计算 15 * 23 的结果", "What time is it in Tokyo?", "Hello, who are you?", "3+4?"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    """The tiny trained model with its GGUF beside its safetensors."""
    folder = tmp_path_factory.mktemp("engines") / TRAINED_TINY_MODEL.name
    shutil.copytree(TRAINED_TINY_MODEL, folder)
    write_qwen2_gguf(folder, folder / GGUF_IN_FOLDER)
    return folder


@pytest.fixture(scope="module")
def adapter(model_dir, tmp_path_factory):
    return random_adapter(model_dir, tmp_path_factory.mktemp("adapter") / "lora", seed=5)


def config(engine: str) -> ModelConfig:
    return ModelConfig(engine=engine, device="cpu", cpu_quantization="none", max_length=512)


@pytest.fixture(scope="module")
def engines(model_dir):
    loaded = {name: load_engine(str(model_dir), None, config(name), OPTIONS) for name in ENGINES}
    yield loaded
    for engine in loaded.values():
        engine.close()


def ask(question: str, **settings) -> GenerationRequest:
    settings.setdefault("max_new_tokens", 24)
    return GenerationRequest(
        messages=[{"role": "user", "content": question}], tools=TOOLS, **settings
    )


def answer(engine, request: GenerationRequest, timeout: float = 60):
    engine.prepare_tool_grammar(request, 10.0)
    return engine.submit(request, threading.Event()).result(timeout)


def test_auto_picks_llamacpp_for_a_folder_with_a_gguf_on_a_cpu(model_dir, monkeypatch):
    assert engine_for(str(model_dir), None, config("auto")) == "llamacpp"
    assert engine_for(str(TRAINED_TINY_MODEL), None, config("auto")) == "transformers"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert engine_for(str(model_dir), None, ModelConfig(device="auto")) == "transformers"


def test_llamacpp_refuses_a_model_without_a_gguf():
    with pytest.raises(ModelLoadError, match="has no GGUF.*model.engine"):
        load_engine(str(TRAINED_TINY_MODEL), None, config("llamacpp"), OPTIONS)


def test_both_engines_give_the_same_greedy_replies_and_calls(engines):
    """Submitted together, so each engine batches them."""
    requests = [
        ask(q, tool_grammar=ToolGrammar((CALCULATE, CLOCK), strict=False)) for q in QUESTIONS
    ]
    replies = {}
    for name, engine in engines.items():
        futures = [engine.submit(r, threading.Event()) for r in requests]
        replies[name] = [f.result(60) for f in futures]
    for ours, theirs in zip(replies["transformers"], replies["llamacpp"], strict=True):
        assert (theirs.text, theirs.tool_calls, theirs.finish_reason) == (
            ours.text,
            ours.tool_calls,
            ours.finish_reason,
        )
        assert (theirs.prompt_tokens, theirs.completion_tokens) == (
            ours.prompt_tokens,
            ours.completion_tokens,
        )


@pytest.mark.parametrize("name", ENGINES)
def test_a_named_tool_choice_gives_a_schema_valid_call(engines, name):
    grammar = ToolGrammar((CALCULATE, CLOCK), choice="get_current_time", parallel=False)
    reply = answer(engines[name], ask("现在东京几点了？", tool_grammar=grammar, max_new_tokens=48))
    (call,) = reply.tool_calls
    assert call["name"] == "get_current_time"
    jsonschema.validate(call["arguments"], CLOCK["parameters"])
    assert reply.constrained


@pytest.mark.parametrize("name", ENGINES)
def test_tool_choice_none_never_calls(engines, name):
    reply = answer(engines[name], ask(QUESTIONS[0], tool_calls_allowed=False))
    assert reply.tool_calls == [] and "<tool_call>" not in reply.text


@pytest.mark.parametrize("name", ENGINES)
def test_a_strict_grammar_that_cannot_be_written_is_refused(engines, name):
    impossible = {
        **CALCULATE,
        "parameters": {"type": "object", "properties": {"p": {"$ref": "#/$defs/gone"}}},
    }
    request = ask(QUESTIONS[0], tool_grammar=ToolGrammar((impossible,), strict=True))
    with pytest.raises(ToolGrammarError):
        engines[name].prepare_tool_grammar(request, 10.0)


@pytest.mark.parametrize("name", ENGINES)
def test_a_stream_adds_up_to_the_reply(engines, name):
    engine, pieces = engines[name], []
    request = ask(QUESTIONS[2], max_new_tokens=20)
    streamed = engine.submit(request, threading.Event(), pieces.append).result(60)
    assert "".join(pieces) == streamed.text == answer(engine, request).text


@pytest.mark.parametrize("name", ENGINES)
def test_bad_requests_fail_alone(engines, name):
    engine = engines[name]
    too_long = ask("word " * 600, max_length=512)
    late = ask(QUESTIONS[1], deadline=time.time() - 1)
    cancelled = threading.Event()
    cancelled.set()
    with pytest.raises(PromptTooLongError):
        engine.submit(too_long, threading.Event()).result(60)
    with pytest.raises(GenerationTimeoutError):
        engine.submit(late, threading.Event()).result(60)
    with pytest.raises(GenerationCancelledError):
        engine.submit(ask(QUESTIONS[1]), cancelled).result(60)
    assert answer(engine, ask(QUESTIONS[1])).completion_tokens > 0
    assert engine.counters()["cancelled"] >= 1


@pytest.mark.parametrize("name", ENGINES)
def test_an_adapter_attached_mid_decode_drops_nothing(engines, adapter, name):
    """A long reply decodes while the adapter attaches (llama.cpp restarts its server); it
    ends whole, and requests naming the adapter then get the same reply on both engines."""
    engine = engines[name]
    long_request = ask(QUESTIONS[2], max_new_tokens=120)
    alone = answer(engine, long_request)
    in_flight = engine.submit(long_request, threading.Event())
    ref = AdapterRef("tiny-lora", str(adapter))
    engine.attach_adapter(ref.peft_name, ref.path)
    assert ref.peft_name in engine.attached_adapters()
    assert in_flight.result(120).text == alone.text
    # A random adapter's large weights leave near-ties that float order breaks after a few
    # tokens on a long prompt: the first tokens are compared.
    tuned = answer(engine, ask(QUESTIONS[0], adapter=ref, max_new_tokens=6))
    assert tuned.text != answer(engine, ask(QUESTIONS[0], max_new_tokens=6)).text
    other = engines[next(n for n in ENGINES if n != name)]
    other.attach_adapter(ref.peft_name, ref.path)
    assert answer(other, ask(QUESTIONS[0], adapter=ref, max_new_tokens=6)).text == tuned.text
    engine.detach_adapter(ref.peft_name)
    assert ref.peft_name not in engine.attached_adapters()


@pytest.mark.parametrize("name", ENGINES)
def test_info_names_the_engine_and_the_model(engines, model_dir, name):
    info = engines[name].info()
    assert info["engine"] == name
    assert info["model_path"] == str(model_dir)
    assert info["model_type"] == "full"
    assert info["parameters"] > 0


def test_an_adapter_served_as_the_model_answers_alike_on_both_engines(engines, model_dir, tmp_path):
    """transformers merges it into the fp32 base; llama.cpp into a copy of the base's GGUF.
    A milder random adapter than the others: its replies stay clear of near-ties."""
    served = random_adapter(model_dir, tmp_path / "served", seed=9, strength=0.05)
    replies = {}
    for name in ENGINES:
        engine = load_engine(str(served), None, config(name), OPTIONS)
        try:
            assert engine.info()["model_type"] == "LoRA"
            replies[name] = [answer(engine, ask(q, max_new_tokens=16)).text for q in QUESTIONS]
        finally:
            engine.close()
    assert replies["llamacpp"] == replies["transformers"]
    base = [answer(engines["llamacpp"], ask(q, max_new_tokens=16)).text for q in QUESTIONS]
    assert replies["llamacpp"] != base  # the adapter changed the model


@pytest.mark.parametrize("strict", [False, True])
def test_a_grammar_llama_cpp_refuses_frees_the_reply_or_fails_strictly(
    engines, monkeypatch, strict
):
    """llama.cpp parses a grammar only when the request starts; one it refuses decodes freely
    unless the grammar is strict (then ToolGrammarError, a 400)."""
    refused = GbnfToolGrammar(text='root ::= "x"{9999}', trigger=None)
    monkeypatch.setattr(llamacpp_engine, "tool_call_gbnf", lambda grammar: refused)
    engine = engines["llamacpp"]
    failed = engine.counters()["tool_grammar"]["failed"]
    grammar = ToolGrammar((CALCULATE, CLOCK), strict=strict)
    future = engine.submit(ask(QUESTIONS[0], tool_grammar=grammar), threading.Event())
    if strict:
        with pytest.raises(ToolGrammarError, match="llama.cpp cannot use this grammar"):
            future.result(60)
    else:
        reply = future.result(60)
        assert not reply.constrained and reply.completion_tokens > 0
    assert engine.counters()["tool_grammar"]["failed"] == failed + 1
