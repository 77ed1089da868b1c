"""Build the tiny random Qwen2 model the tests serve and tune (a fixture, never the product).

The folder it writes loads with `AutoTokenizer` / `AutoModelForCausalLM` like any hub checkpoint:
a byte-level BPE tokenizer trained here on a shipped and generated corpus, a Hermes-style chat
template with tool calls, and a randomly initialised Qwen2 model. Same seed, same bytes.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import operator
import random
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import torch
from safetensors import safe_open
from tokenizers import (
    AddedToken,
    Regex,
    Tokenizer,
    decoders,
    models,
    normalizers,
    pre_tokenizers,
    processors,
)
from tokenizers.trainers import BpeTrainer
from transformers import GenerationConfig, PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

logger = logging.getLogger(__name__)

# The tokenizer's training texts: everyday sentences and word lists in English and Chinese.
CORPUS_DIR = Path(__file__).parent / "tokenizer_corpus"
ENDOFTEXT = "<|endoftext|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"
SPECIAL_TOKENS = (ENDOFTEXT, IM_START, IM_END)
# Not special: decoding with skip_special_tokens=True must keep them so tool calls can be parsed.
TOOL_TOKENS = ("<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>")

# An upper bound: the corpus runs out of byte pairs seen twice at about 3.2k tokens.
MAX_VOCAB_SIZE = 8192
MAX_POSITIONS = 4096
DEFAULT_SYSTEM_PROMPT = "You are a helpful assistant."
TOOLS_INTRO = "You can call the functions below to help with the user's request."
TOOLS_CALL_HOWTO = (
    "To call a function, answer with a JSON object holding its name and arguments "
    "inside <tool_call></tool_call> tags:"
)

# The tokenizer is trained on finer pieces than Qwen2's split: one CJK character, one letter run
# (no leading space or symbol), one digit, one punctuation or symbol character, one run of spaces
# or of line breaks. transformers loads any model_type "qwen2" folder with Qwen2's own, coarser
# split (" Qingdao", '": "', "青岛今天"), but since every learned merge stays inside one of these
# pieces, both splits give the same tokens. What that buys: a value is the same tokens in the
# user's sentence and in the tool call's JSON ("Qingdao", not " Qingdao" vs "Qingdao"), so the
# model learns to copy it rather than to respell it.
PRETOKENIZE_PATTERN = (
    r"\p{Han}"
    r"|[\p{L}\p{M}&&[^\p{Han}]]+"
    r"|\p{N}"
    r"|[^\s\p{L}\p{M}\p{N}]"
    r"|\s*[\r\n]+"
    r"|[^\S\r\n]+"
)

# Same layout as Qwen2.5 / Hermes so parsers and datasets written for those models work here,
# except the tool list: one signature line per tool, `name(arg: type, optional?: type) - what it
# does`, instead of its JSON schema. The schemas of the seven built-in tools are about 1 000 tokens,
# three quarters of a typical training row; the signatures are under 200, so a CPU-trained tiny
# model sees about three times as many conversations for the same compute. Arguments are still
# validated against the full schema when the call runs.
# The assistant turn after its header, up to and including <|im_end|>, is inside
# {% generation %} so that `return_assistant_tokens_mask=True` marks what the model must learn.
CHAT_TEMPLATE = r"""
{%- if messages and messages[0].role == "system" -%}
    {%- set system_text = messages[0].content -%}
    {%- set turns = messages[1:] -%}
{%- else -%}
    {%- set system_text = "__DEFAULT_SYSTEM_PROMPT__" -%}
    {%- set turns = messages -%}
{%- endif -%}
{{- "<|im_start|>system\n" + system_text -}}
{%- if tools -%}
    {{- "\n\n# Tools\n\n__TOOLS_INTRO__\n\n<tools>" -}}
    {%- for tool in tools -%}
        {%- set fn = tool.function if tool.function is defined else tool -%}
        {%- set schema = fn.parameters if fn.parameters is mapping else {} -%}
        {%- set required = schema.required if schema.required is defined else [] -%}
        {%- set properties = schema.properties if schema.properties is mapping else {} -%}
        {{- "\n" + fn.name + "(" -}}
        {%- for name, spec in properties.items() -%}
            {{- ", " if not loop.first else "" -}}
            {{- name + ("" if name in required else "?") + ": " -}}
            {%- if spec.enum is defined -%}
                {{- spec.enum | map("tojson") | join(" | ") -}}
            {%- elif spec.type is string -%}
                {{- spec.type -}}
            {%- elif spec.type is defined -%}
                {{- spec.type | join(" | ") -}}
            {%- else -%}
                {{- "any" -}}
            {%- endif -%}
        {%- endfor -%}
        {{- ")" + (" - " + fn.description if fn.description else "") -}}
    {%- endfor -%}
    {{- "\n</tools>\n\n__TOOLS_CALL_HOWTO__\n" -}}
    {{- '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>' -}}
{%- endif -%}
{{- "<|im_end|>\n" -}}
{%- for message in turns -%}
    {%- if message.role == "assistant" -%}
        {{- "<|im_start|>assistant\n" -}}
        {%- generation -%}
            {%- if message.content -%}
                {{- message.content -}}
            {%- endif -%}
            {%- for call in message.tool_calls or [] -%}
                {%- set fn = call.function if call.function is defined else call -%}
                {%- if message.content or not loop.first -%}
                    {{- "\n" -}}
                {%- endif -%}
                {{- '<tool_call>\n{"name": "' + fn.name + '", "arguments": ' -}}
                {%- if fn.arguments is string -%}
                    {{- fn.arguments -}}
                {%- elif fn.arguments is defined -%}
                    {{- fn.arguments | tojson -}}
                {%- else -%}
                    {{- "{}" -}}
                {%- endif -%}
                {{- "}\n</tool_call>" -}}
            {%- endfor -%}
            {{- "<|im_end|>" -}}
        {%- endgeneration -%}
        {{- "\n" -}}
    {%- elif message.role == "tool" -%}
        {%- if loop.first or turns[loop.index0 - 1].role != "tool" -%}
            {{- "<|im_start|>user" -}}
        {%- endif -%}
        {%- if message.content is string -%}
            {%- set result = message.content -%}
        {%- else -%}
            {%- set result = message.content | tojson -%}
        {%- endif -%}
        {{- "\n<tool_response>\n" + result + "\n</tool_response>" -}}
        {%- if loop.last or turns[loop.index0 + 1].role != "tool" -%}
            {{- "<|im_end|>\n" -}}
        {%- endif -%}
    {%- else -%}
        {{- "<|im_start|>" + message.role + "\n" + message.content + "<|im_end|>\n" -}}
    {%- endif -%}
{%- endfor -%}
{%- if add_generation_prompt -%}
    {{- "<|im_start|>assistant\n" -}}
{%- endif -%}
""".strip()
CHAT_TEMPLATE = (
    CHAT_TEMPLATE.replace("__DEFAULT_SYSTEM_PROMPT__", DEFAULT_SYSTEM_PROMPT)
    .replace("__TOOLS_INTRO__", TOOLS_INTRO)
    .replace("__TOOLS_CALL_HOWTO__", TOOLS_CALL_HOWTO)
)

_CITIES = (
    ("北京", "Beijing"),
    ("上海", "Shanghai"),
    ("广州", "Guangzhou"),
    ("深圳", "Shenzhen"),
    ("杭州", "Hangzhou"),
    ("成都", "Chengdu"),
    ("重庆", "Chongqing"),
    ("武汉", "Wuhan"),
    ("西安", "Xi'an"),
    ("南京", "Nanjing"),
    ("天津", "Tianjin"),
    ("苏州", "Suzhou"),
    ("香港", "Hong Kong"),
    ("台北", "Taipei"),
    ("东京", "Tokyo"),
    ("大阪", "Osaka"),
    ("首尔", "Seoul"),
    ("新加坡", "Singapore"),
    ("曼谷", "Bangkok"),
    ("悉尼", "Sydney"),
    ("伦敦", "London"),
    ("巴黎", "Paris"),
    ("柏林", "Berlin"),
    ("罗马", "Rome"),
    ("马德里", "Madrid"),
    ("莫斯科", "Moscow"),
    ("纽约", "New York"),
    ("洛杉矶", "Los Angeles"),
    ("旧金山", "San Francisco"),
    ("芝加哥", "Chicago"),
    ("多伦多", "Toronto"),
    ("温哥华", "Vancouver"),
    ("开罗", "Cairo"),
    ("迪拜", "Dubai"),
    ("孟买", "Mumbai"),
)
_TIMEZONES = (
    ("北京", "Beijing", "Asia/Shanghai", "+08:00"),
    ("上海", "Shanghai", "Asia/Shanghai", "+08:00"),
    ("香港", "Hong Kong", "Asia/Hong_Kong", "+08:00"),
    ("东京", "Tokyo", "Asia/Tokyo", "+09:00"),
    ("首尔", "Seoul", "Asia/Seoul", "+09:00"),
    ("新加坡", "Singapore", "Asia/Singapore", "+08:00"),
    ("迪拜", "Dubai", "Asia/Dubai", "+04:00"),
    ("伦敦", "London", "Europe/London", "+01:00"),
    ("巴黎", "Paris", "Europe/Paris", "+02:00"),
    ("柏林", "Berlin", "Europe/Berlin", "+02:00"),
    ("莫斯科", "Moscow", "Europe/Moscow", "+03:00"),
    ("纽约", "New York", "America/New_York", "-04:00"),
    ("芝加哥", "Chicago", "America/Chicago", "-05:00"),
    ("洛杉矶", "Los Angeles", "America/Los_Angeles", "-07:00"),
    ("悉尼", "Sydney", "Australia/Sydney", "+10:00"),
    ("协调世界时", "UTC", "UTC", "+00:00"),
)
_CONDITIONS = (
    ("晴", "sunny"),
    ("多云", "partly cloudy"),
    ("阴", "overcast"),
    ("小雨", "light rain"),
    ("大雨", "heavy rain"),
    ("雷阵雨", "thunderstorms"),
    ("小雪", "light snow"),
    ("雾", "fog"),
    ("大风", "windy"),
)
_WEEKDAYS = (
    ("星期一", "Monday"),
    ("星期二", "Tuesday"),
    ("星期三", "Wednesday"),
    ("星期四", "Thursday"),
    ("星期五", "Friday"),
    ("星期六", "Saturday"),
    ("星期日", "Sunday"),
)
_FILES = (
    "notes.txt",
    "todo.txt",
    "report.md",
    "README.md",
    "data.csv",
    "sales_2024.csv",
    "config.yaml",
    "settings.json",
    "main.py",
    "utils.py",
    "results.json",
    "meeting_notes.txt",
    "budget.xlsx",
    "summary.pdf",
    "会议记录.txt",
    "报告.md",
    "日程.txt",
    "购物清单.txt",
)
_DIRS = (".", "docs", "data", "reports", "src", "notes", "projects/demo")
_SEARCHES = (
    ("latest AI news", "最新的人工智能新闻"),
    ("electric car prices", "电动汽车价格"),
    ("best restaurants in Shanghai", "上海最好的餐厅"),
    ("how to learn Python", "如何学习 Python"),
    ("Ray Serve tutorial", "Ray Serve 教程"),
    ("population of Tokyo", "东京的人口"),
    ("flight from Beijing to London", "北京到伦敦的航班"),
    ("today's exchange rate USD to CNY", "今天美元兑人民币汇率"),
    ("healthy breakfast ideas", "健康早餐"),
    ("world cup results", "世界杯比赛结果"),
)
_TOOL_SCHEMAS = (
    ("calculate", "Evaluate an arithmetic expression.", {"expression": "string"}),
    ("get_current_time", "Get the current date and time in a timezone.", {"timezone": "string"}),
    ("get_weather", "Get the current weather for a city.", {"location": "string"}),
    ("web_search", "Search the web and return the top results.", {"query": "string"}),
    ("list_files", "List the files in a workspace directory.", {"directory": "string"}),
    ("read_file", "Read a text file from the workspace.", {"path": "string"}),
    (
        "write_file",
        "Write text to a file in the workspace.",
        {"path": "string", "content": "string"},
    ),
)


def _call(name: str, arguments: dict) -> str:
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


def _dumps(obj: object) -> str:
    return json.dumps(obj, ensure_ascii=False)


_OPERATORS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}


def _expression(rng: random.Random) -> tuple[str, str]:
    """A random arithmetic expression and its value, as a user would type it."""
    a, b, c = rng.randint(1, 999), rng.randint(1, 99), rng.randint(1, 20)
    op1, op2 = rng.choice("+-*/"), rng.choice("+-*")
    shape = rng.randrange(4)
    if shape == 0:
        expr, value = f"{a} {op1} {b}", _OPERATORS[op1](a, b)
    elif shape == 1:
        expr, value = f"({a} {op2} {b}) {op1} {c}", _OPERATORS[op1](_OPERATORS[op2](a, b), c)
    elif shape == 2:
        expr, value = f"{a}.{c} {op2} {b}", _OPERATORS[op2](float(f"{a}.{c}"), b)
    else:
        expr, value = f"{a} {op2} {b} ** 2", _OPERATORS[op2](a, b**2)
    return expr, f"{round(value, 4):g}"


def _tool_lines(rng: random.Random) -> list[str]:
    """Questions, tool calls, tool results and answers for the built-in tools."""
    lines: list[str] = []
    for zh, en in _CITIES:
        cond_zh, cond_en = rng.choice(_CONDITIONS)
        temp, humidity = rng.randint(-10, 38), rng.randint(20, 95)
        lines += [
            f"What's the weather like in {en} today?",
            f"Will it rain in {en} tomorrow?",
            f"How cold is it in {en} right now?",
            f"{zh}今天天气怎么样？",
            f"{zh}明天会下雨吗？",
            f"帮我查一下{zh}现在的气温。",
            _call("get_weather", {"location": en}),
            _call("get_weather", {"location": zh}),
            _dumps(
                {
                    "location": en,
                    "temperature": temp,
                    "unit": "celsius",
                    "condition": cond_en,
                    "humidity": humidity,
                    "wind_speed_kmh": rng.randint(0, 40),
                }
            ),
            f"It is {cond_en} in {en} with a temperature of {temp}°C and {humidity}% humidity.",
            f"{zh}现在{cond_zh}，气温{temp}°C，湿度{humidity}%。",
        ]
    for zh, en, tz, offset in _TIMEZONES:
        day_zh, day_en = rng.choice(_WEEKDAYS)
        day, hour, minute = rng.randint(1, 31), rng.randint(0, 23), rng.randint(0, 59)
        lines += [
            f"What time is it in {en}?",
            f"What's the date today in {en}?",
            f"{zh}现在几点？",
            f"{zh}今天是星期几？",
            _call("get_current_time", {"timezone": tz}),
            _dumps(
                {
                    "timezone": tz,
                    "datetime": f"2024-05-{day:02d}T{hour:02d}:{minute:02d}:00{offset}",
                    "weekday": day_en,
                }
            ),
            f"It is {hour:02d}:{minute:02d} on {day_en} in {en} ({tz}).",
            f"{zh}现在是{day_zh} {hour:02d}:{minute:02d}。",
        ]
    for _ in range(400):
        expr, value = _expression(rng)
        lines += [
            rng.choice(
                (
                    f"What is {expr}?",
                    f"Calculate {expr}.",
                    f"Please compute {expr} for me.",
                    f"计算 {expr}",
                    f"{expr} 等于多少？",
                    f"帮我算一下 {expr}。",
                )
            ),
            _call("calculate", {"expression": expr}),
            _dumps({"expression": expr, "result": value}),
            rng.choice((f"{expr} = {value}", f"The result is {value}.", f"结果是 {value}。")),
        ]
    for name in _FILES:
        folder = rng.choice(_DIRS)
        path = name if folder == "." else f"{folder}/{name}"
        lines += [
            f"Read the file {path} and tell me what it says.",
            f"请读取 {path} 的内容。",
            f"Save my notes to {path}.",
            f"把这些内容写入 {path}。",
            _call("read_file", {"path": path}),
            _call("write_file", {"path": path, "content": "Buy milk and eggs.\n买牛奶和鸡蛋。"}),
            _dumps({"path": path, "bytes_written": rng.randint(10, 4000)}),
            _dumps({"path": path, "content": "Meeting at 10:00 with the design team."}),
        ]
    for folder in _DIRS:
        names = rng.sample(_FILES, 4)
        lines += [
            f"List the files in {folder}.",
            f"{folder} 目录里有哪些文件？",
            _call("list_files", {"directory": folder}),
            _dumps({"directory": folder, "files": names}),
        ]
    for en, zh in _SEARCHES:
        slug = en.lower().replace(" ", "-").replace("'", "")
        lines += [
            f"Search the web for {en}.",
            f"搜索一下{zh}。",
            _call("web_search", {"query": en}),
            _call("web_search", {"query": zh}),
            _dumps(
                {
                    "query": en,
                    "results": [
                        {
                            "title": en.title(),
                            "url": f"https://example.com/{slug}",
                            "snippet": f"Everything you need to know about {en}.",
                        }
                    ],
                }
            ),
        ]
    for name, description, params in _TOOL_SCHEMAS:
        schema = {
            "type": "function",
            "function": {
                "name": name,
                "description": description,
                "parameters": {
                    "type": "object",
                    "properties": {key: {"type": kind} for key, kind in params.items()},
                    "required": list(params),
                },
            },
        }
        lines += [_dumps(schema)] * 5
    lines += [DEFAULT_SYSTEM_PROMPT, TOOLS_INTRO, TOOLS_CALL_HOWTO, "# Tools"] * 5
    lines += ["system", "user", "assistant", "tool"] * 20
    return lines


def common_words(language: str) -> tuple[str, ...]:
    """Everyday words of ``language`` ("en" or "zh") from the tokenizer corpus."""
    return tuple((CORPUS_DIR / f"words_{language}.txt").read_text(encoding="utf-8").split())


def _word_salad(
    words: Sequence[str], rng: random.Random, lines: int, per_line: int, sep: str
) -> list[str]:
    """Lines of randomly drawn words, so that each listed word occurs often enough to be merged."""
    return [sep.join(rng.choices(words, k=per_line)) for _ in range(lines)]


def tokenizer_corpus() -> list[str]:
    """Tokenizer training text: shipped sentences and word lists plus generated tool traffic."""
    # A fixed seed of its own: the tokenizer is the same whatever seed the model weights use.
    rng = random.Random(1234)
    lines: list[str] = []
    for name in ("everyday_en.txt", "everyday_zh.txt"):
        text = (CORPUS_DIR / name).read_text(encoding="utf-8")
        lines += [line for line in text.splitlines() if line.strip()]
    words_en, words_zh = common_words("en"), common_words("zh")
    lines += _word_salad(words_en, rng, lines=800, per_line=8, sep=" ")
    lines += _word_salad(words_zh, rng, lines=600, per_line=3, sep="")
    lines += _word_salad(words_zh, rng, lines=300, per_line=6, sep="，")
    lines += _tool_lines(rng)
    return lines


def train_tokenizer() -> Tokenizer:
    """Train the byte-level BPE tokenizer; every string round-trips, digits are one token each."""
    tokenizer = Tokenizer(models.BPE())
    # NFC and ByteLevel as Qwen2Tokenizer rebuilds them on load; the split is the finer one above.
    tokenizer.normalizer = normalizers.NFC()
    tokenizer.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(PRETOKENIZE_PATTERN), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tokenizer.decoder = decoders.ByteLevel()
    # Untrimmed offsets keep spaces inside their token, which the assistant-token mask relies on.
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = BpeTrainer(
        vocab_size=MAX_VOCAB_SIZE - len(TOOL_TOKENS),
        min_frequency=2,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(tokenizer_corpus(), trainer=trainer)
    tokenizer.add_tokens([AddedToken(tok, special=False, normalized=False) for tok in TOOL_TOKENS])
    return tokenizer


def build_tokenizer() -> PreTrainedTokenizerFast:
    """Wrap the trained tokenizer with the special tokens and chat template transformers expects."""
    return PreTrainedTokenizerFast(
        tokenizer_object=train_tokenizer(),
        eos_token=IM_END,
        pad_token=ENDOFTEXT,
        unk_token=None,
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=MAX_POSITIONS,
        padding_side="left",
        clean_up_tokenization_spaces=False,
    )


def build_model(tokenizer: PreTrainedTokenizerFast, seed: int) -> Qwen2ForCausalLM:
    """A randomly initialised Qwen2 of a few million parameters, reproducible from `seed`."""
    eos_id = tokenizer.convert_tokens_to_ids(IM_END)
    pad_id = tokenizer.convert_tokens_to_ids(ENDOFTEXT)
    config = Qwen2Config(
        vocab_size=-(-len(tokenizer) // 64) * 64,
        hidden_size=256,
        intermediate_size=688,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=MAX_POSITIONS,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0},
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=eos_id,
        pad_token_id=pad_id,
    )
    with torch.random.fork_rng(devices=[]):  # leave the caller's random state as it was
        torch.manual_seed(seed)
        model = Qwen2ForCausalLM(config).to(torch.float32)
    model.generation_config = GenerationConfig(
        eos_token_id=[eos_id, pad_id], pad_token_id=pad_id, bos_token_id=None, do_sample=False
    )
    return model


def build_tiny_model(output_dir: Path, seed: int = 0) -> Path:
    """Write tokenizer, chat template, config and fp32 safetensors weights to `output_dir`.

    The folder is assembled beside the target and renamed into place, so a reader never sees a
    half-written model; an existing folder at `output_dir` is replaced.
    """
    output_dir = Path(output_dir).absolute()
    if (
        output_dir.exists()
        and any(output_dir.iterdir())
        and not (output_dir / "config.json").exists()
    ):
        raise FileExistsError(
            f"{output_dir} exists and is not a model folder (no config.json); "
            "choose an empty or new folder, or a model folder to replace"
        )
    output_dir.parent.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    tokenizer = build_tokenizer()
    model = build_model(tokenizer, seed)
    staging = Path(tempfile.mkdtemp(prefix=f".{output_dir.name}-", dir=output_dir.parent))
    try:
        staging.chmod(0o755)  # mkdtemp makes it private; the model folder is meant to be shared
        tokenizer.save_pretrained(staging)
        model.save_pretrained(staging)
        if output_dir.exists():
            shutil.rmtree(output_dir)
        staging.rename(output_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    logger.info(
        "built tiny model at %s: %d parameters, vocab %d, seed %d, %.1f s",
        output_dir,
        model.num_parameters(),
        len(tokenizer),
        seed,
        time.perf_counter() - started,
    )
    return output_dir


def _parameter_count(folder: Path) -> int:
    """Count the saved weights without building the model (tied lm_head is stored once)."""
    with safe_open(folder / "model.safetensors", framework="pt") as weights:
        names = weights.keys()
        return sum(math.prod(weights.get_slice(name).get_shape()) for name in names)


def main(argv: list[str] | None = None) -> None:
    """CLI: build the tiny model folder, e.g. `python -m train_app.tiny_model --output models/x`."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, required=True, help="folder to write the model to")
    parser.add_argument("--seed", type=int, default=0, help="seed of the random weights")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    folder = build_tiny_model(args.output, seed=args.seed)
    print(f"wrote {folder} ({_parameter_count(folder):,} parameters)")


if __name__ == "__main__":
    main()
