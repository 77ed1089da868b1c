"""The tiny random test model: loadable offline, tool-calling chat template, reproducible bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from tests.tiny_model import FIXTURES, SPECIAL_TOKENS, TOOL_TOKENS, build_tiny_model

DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "查询城市天气",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string"}},
            "required": ["location"],
        },
    },
}

# One round of tool use: dict arguments in the OpenAI shape, string arguments in the bare shape,
# and two consecutive tool results.
TOOL_CONVERSATION = [
    {"role": "user", "content": "北京天气怎么样？再算一下 2+3"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": {"location": "北京"}},
            },
            {"name": "calculate", "arguments": '{"expression": "2+3"}'},
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": '{"temperature": 21, "condition": "晴"}'},
    {"role": "tool", "content": '{"result": 5}'},
    {"role": "assistant", "content": "北京晴，21°C；2+3=5。"},
]

TOOLS_BLOCK = (
    "\n\n# Tools\n\nYou can call the functions below to help with the user's request.\n\n<tools>\n"
    "get_weather(location: string) - 查询城市天气\n"
    "</tools>\n\n"
    "To call a function, answer with a JSON object holding its name and arguments inside "
    "<tool_call></tool_call> tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>'
)

FIRST_ASSISTANT_TURN = (
    '<tool_call>\n{"name": "get_weather", "arguments": {"location": "北京"}}\n</tool_call>\n'
    '<tool_call>\n{"name": "calculate", "arguments": {"expression": "2+3"}}\n</tool_call>'
    "<|im_end|>"
)
SECOND_ASSISTANT_TURN = "北京晴，21°C；2+3=5。<|im_end|>"

EXPECTED_TOOL_CONVERSATION = (
    f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}{TOOLS_BLOCK}<|im_end|>\n"
    "<|im_start|>user\n北京天气怎么样？再算一下 2+3<|im_end|>\n"
    f"<|im_start|>assistant\n{FIRST_ASSISTANT_TURN}\n"
    "<|im_start|>user\n"
    '<tool_response>\n{"temperature": 21, "condition": "晴"}\n</tool_response>\n'
    '<tool_response>\n{"result": 5}\n</tool_response><|im_end|>\n'
    f"<|im_start|>assistant\n{SECOND_ASSISTANT_TURN}\n"
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir: Path):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="module")
def model(tiny_model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(tiny_model_dir)


def test_folder_holds_a_safetensors_qwen2_checkpoint(
    tiny_model_dir: Path, model, tokenizer
) -> None:
    names = {path.name for path in tiny_model_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert {"tokenizer_config.json", "chat_template.jinja"} <= names
    assert isinstance(model, Qwen2ForCausalLM)
    assert model.dtype == torch.float32
    assert model.num_parameters() < 5_000_000
    assert model.config.tie_word_embeddings
    assert model.config.max_position_embeddings == 4096
    assert model.config.vocab_size >= len(tokenizer)


def test_generation_config_stops_at_either_end_token(model, tokenizer) -> None:
    im_end, endoftext = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    assert model.generation_config.eos_token_id == [im_end, endoftext]
    assert model.generation_config.pad_token_id == endoftext
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None


@pytest.mark.parametrize(
    "text",
    [
        "What's the weather like in Shanghai today?",
        "北京今天天气怎么样？明天会下雨吗？",
        "Tokyo 东京 23°C, humidity 60%; 请计算 (15 + 27) * 3 = 126",
        '{"name": "get_weather", "arguments": {"location": "上海"}}',
        "  leading spaces, tabs\tand\nnew lines\n\n",
        "emoji 🙂 and rare 𠀀 characters",
    ],
)
def test_text_round_trips_exactly(tokenizer, text: str) -> None:
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert tokenizer.decode(ids) == text


@pytest.mark.parametrize("token", SPECIAL_TOKENS + TOOL_TOKENS)
def test_control_tokens_are_single_ids(tokenizer, token: str) -> None:
    ids = tokenizer.encode(f"a{token}b", add_special_tokens=False)
    assert tokenizer.convert_tokens_to_ids(token) in ids
    assert len(tokenizer.encode(token, add_special_tokens=False)) == 1


def test_skipping_special_tokens_keeps_tool_call_tags(tokenizer) -> None:
    ids = tokenizer.encode('<|im_start|><tool_call>\n{"a": 1}\n</tool_call><|im_end|>')
    assert tokenizer.decode(ids, skip_special_tokens=True) == '<tool_call>\n{"a": 1}\n</tool_call>'


def test_loaded_tokenizer_agrees_with_tokenizer_json(tiny_model_dir: Path, tokenizer) -> None:
    # AutoTokenizer builds Qwen2Tokenizer from the vocab and merges; it must split like the file.
    raw = Tokenizer.from_file(str(tiny_model_dir / "tokenizer.json"))
    lines = (FIXTURES / "tokenizer_text.txt").read_text(encoding="utf-8").splitlines()
    for line in [*lines, "What's the weather like in Kunming?", "昆明现在冷不冷？"]:
        assert tokenizer.encode(line, add_special_tokens=False) == raw.encode(line).ids, line


def test_template_renders_tools_tool_calls_and_tool_results(tokenizer) -> None:
    rendered = tokenizer.apply_chat_template(
        TOOL_CONVERSATION, tools=[WEATHER_TOOL], tokenize=False
    )
    assert rendered == EXPECTED_TOOL_CONVERSATION


def test_rendered_tool_call_tag_is_one_token(tokenizer) -> None:
    ids = tokenizer.apply_chat_template(TOOL_CONVERSATION, tools=[WEATHER_TOOL], return_dict=False)
    tokens = tokenizer.convert_ids_to_tokens(ids)
    rendered = EXPECTED_TOOL_CONVERSATION
    for tag in TOOL_TOKENS + ("<|im_start|>", "<|im_end|>"):
        assert tokens.count(tag) == rendered.count(tag), tag
    assert tokenizer.decode(ids) == rendered


def test_assistant_mask_covers_exactly_the_assistant_turns(tokenizer) -> None:
    out = tokenizer.apply_chat_template(
        TOOL_CONVERSATION,
        tools=[WEATHER_TOOL],
        return_dict=True,
        return_assistant_tokens_mask=True,
    )
    ids, mask = out["input_ids"], out["assistant_masks"]
    assert len(mask) == len(ids)
    # Split the masked tokens into runs: one run per assistant turn, header and newline excluded.
    runs: list[list[int]] = []
    for i, (token, masked) in enumerate(zip(ids, mask, strict=True)):
        if masked:
            if i == 0 or not mask[i - 1]:
                runs.append([])
            runs[-1].append(token)
    assert [tokenizer.decode(run) for run in runs] == [FIRST_ASSISTANT_TURN, SECOND_ASSISTANT_TURN]


def test_greedy_generate_stops_at_eos_or_max_new_tokens(model, tokenizer) -> None:
    inputs = tokenizer.apply_chat_template(
        [{"role": "user", "content": "上海现在几点？"}],
        tools=[WEATHER_TOOL],
        add_generation_prompt=True,
        return_dict=True,
        return_tensors="pt",
    )
    prompt_len = inputs["input_ids"].shape[1]
    first = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    second = model.generate(**inputs, max_new_tokens=6, do_sample=False)
    assert torch.equal(first, second)
    new = first[0, prompt_len:].tolist()
    assert 1 <= len(new) <= 6
    if len(new) < 6:
        assert new[-1] in model.generation_config.eos_token_id


def test_same_seed_rebuilds_identical_bytes(tiny_model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path / "again", seed=0)
    for name in ("tokenizer.json", "model.safetensors", "config.json", "chat_template.jinja"):
        assert _sha256(again / name) == _sha256(tiny_model_dir / name), name
    # Another seed changes only the weights.
    other = build_tiny_model(tmp_path / "other", seed=1)
    assert _sha256(other / "tokenizer.json") == _sha256(tiny_model_dir / "tokenizer.json")
    assert _sha256(other / "model.safetensors") != _sha256(tiny_model_dir / "model.safetensors")
