"""The tiny default model: loadable offline, tool-calling chat template, reproducible bytes."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from tokenizers import Tokenizer
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2ForCausalLM

from train_app.tiny_model import (
    DEFAULT_SYSTEM_PROMPT,
    SPECIAL_TOKENS,
    TOOL_TOKENS,
    build_tiny_model,
    main,
    tokenizer_corpus,
)

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
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "tiny-qwen2", seed=0)


@pytest.fixture(scope="module")
def tokenizer(model_dir: Path):
    return AutoTokenizer.from_pretrained(model_dir)


@pytest.fixture(scope="module")
def model(model_dir: Path):
    return AutoModelForCausalLM.from_pretrained(model_dir)


def test_folder_holds_a_safetensors_qwen2_checkpoint(model_dir: Path, model, tokenizer) -> None:
    names = {path.name for path in model_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json"} <= names
    assert {"tokenizer_config.json", "chat_template.jinja"} <= names
    assert isinstance(model, Qwen2ForCausalLM)
    assert model.dtype == torch.float32
    assert 2_000_000 < model.num_parameters() < 10_000_000
    assert model.config.tie_word_embeddings
    assert model.config.max_position_embeddings == 4096
    assert 2000 <= len(tokenizer) <= 8192
    assert model.config.vocab_size >= len(tokenizer)


def test_generation_config_stops_at_either_end_token(model, tokenizer) -> None:
    im_end, endoftext = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    assert model.generation_config.eos_token_id == [im_end, endoftext]
    assert model.generation_config.pad_token_id == endoftext
    assert tokenizer.eos_token == "<|im_end|>"
    assert tokenizer.pad_token == "<|endoftext|>"
    assert tokenizer.bos_token is None


def test_digits_are_one_token_each(tokenizer) -> None:
    assert tokenizer.tokenize("12345") == ["1", "2", "3", "4", "5"]
    tokens = tokenizer.tokenize("On 2024-05-17 it cost ¥3.14, 第12次")
    assert [t for t in tokens if any(c.isdigit() for c in t)] == list("2024051731412")


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


def test_loaded_tokenizer_agrees_with_tokenizer_json(model_dir: Path, tokenizer) -> None:
    # AutoTokenizer builds Qwen2Tokenizer from the vocab and merges; it must split like the file.
    raw = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    for line in tokenizer_corpus()[::7]:
        assert tokenizer.encode(line, add_special_tokens=False) == raw.encode(line).ids, line


@pytest.mark.parametrize(
    ("request_text", "value"),
    [
        ("What's the weather like in Kunming?", "Kunming"),
        ("昆明现在冷不冷？", "昆明"),
        ("用搜索引擎查一下大熊猫的生活习性", "大熊猫的生活习性"),
        (
            "Search the web for electric car battery recycling, please",
            "electric car battery recycling",
        ),
        ("What is 5 * (3+4)?", "5 * (3+4)"),
        ("请读取 notes/2024/readme.txt 的内容", "notes/2024/readme.txt"),
        ("我想知道Africa/Cairo此刻的时间", "Africa/Cairo"),
    ],
)
def test_a_value_is_the_same_tokens_in_the_request_and_in_the_call(
    tokenizer, request_text: str, value: str
) -> None:
    """Copying an argument from the user's words into the call is then a copy of tokens."""
    call = f'{{"name": "f", "arguments": {{"x": "{value}"}}}}'
    wanted = tokenizer.tokenize(value)

    def contains(tokens: list[str]) -> bool:
        return any(tokens[i : i + len(wanted)] == wanted for i in range(len(tokens)))

    assert contains(tokenizer.tokenize(request_text)), tokenizer.tokenize(request_text)
    assert contains(tokenizer.tokenize(call)), tokenizer.tokenize(call)


def test_template_renders_tools_tool_calls_and_tool_results(tokenizer) -> None:
    rendered = tokenizer.apply_chat_template(
        TOOL_CONVERSATION, tools=[WEATHER_TOOL], tokenize=False
    )
    assert rendered == EXPECTED_TOOL_CONVERSATION


def test_template_puts_own_system_message_before_tools(tokenizer) -> None:
    messages = [{"role": "system", "content": "你是天气助手。"}, {"role": "user", "content": "hi"}]
    rendered = tokenizer.apply_chat_template(messages, tools=[WEATHER_TOOL], tokenize=False)
    assert rendered.startswith(f"<|im_start|>system\n你是天气助手。{TOOLS_BLOCK}<|im_end|>\n")
    assert rendered.count("<|im_start|>system") == 1


def test_template_without_tools_uses_default_system_prompt(tokenizer) -> None:
    rendered = tokenizer.apply_chat_template(
        [{"role": "user", "content": "Hello"}], add_generation_prompt=True, tokenize=False
    )
    assert rendered == (
        f"<|im_start|>system\n{DEFAULT_SYSTEM_PROMPT}<|im_end|>\n"
        "<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n"
    )


def test_assistant_text_comes_before_its_tool_call(tokenizer) -> None:
    messages = [
        {"role": "user", "content": "What time is it in Tokyo?"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [{"function": {"name": "get_current_time", "arguments": {}}}],
        },
    ]
    rendered = tokenizer.apply_chat_template(messages, tokenize=False)
    assert rendered.endswith(
        "<|im_start|>assistant\nLet me check.\n<tool_call>\n"
        '{"name": "get_current_time", "arguments": {}}\n</tool_call><|im_end|>\n'
    )


def test_generation_prompt_opens_an_assistant_turn(tokenizer) -> None:
    rendered = tokenizer.apply_chat_template(
        TOOL_CONVERSATION[:4], tools=[WEATHER_TOOL], add_generation_prompt=True, tokenize=False
    )
    assert rendered.endswith("</tool_response><|im_end|>\n<|im_start|>assistant\n")


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


def test_same_seed_rebuilds_identical_bytes(model_dir: Path, tmp_path: Path) -> None:
    again = build_tiny_model(tmp_path / "again", seed=0)
    for name in ("tokenizer.json", "model.safetensors", "config.json", "chat_template.jinja"):
        assert _sha256(again / name) == _sha256(model_dir / name), name
    # Rebuilding over an existing folder replaces it; another seed changes only the weights.
    other = build_tiny_model(tmp_path / "again", seed=1)
    assert _sha256(other / "tokenizer.json") == _sha256(model_dir / "tokenizer.json")
    assert _sha256(other / "model.safetensors") != _sha256(model_dir / "model.safetensors")


def test_cli_reports_folder_and_parameter_count(
    tmp_path: Path, model, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["--output", str(tmp_path / "cli-model"), "--seed", "0"])
    printed = capsys.readouterr().out
    assert str(tmp_path / "cli-model") in printed
    assert f"{model.num_parameters():,} parameters" in printed


def test_build_refuses_to_replace_a_folder_that_is_not_a_model(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not a model folder"):
        build_tiny_model(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "keep me"
