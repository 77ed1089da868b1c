"""The model card (README.md) published with a trained job's folder on the Hugging Face Hub."""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

# owner/name, as the hub spells repository ids.
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")

_PEFT_EXAMPLE = """\
from peft import PeftModel
from transformers import AutoModelForCausalLM, AutoTokenizer

base = AutoModelForCausalLM.from_pretrained("{base}")
model = PeftModel.from_pretrained(base, "{repo_id}")
tokenizer = AutoTokenizer.from_pretrained("{tokenizer}")
"""
_FULL_EXAMPLE = """\
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("{repo_id}")
tokenizer = AutoTokenizer.from_pretrained("{tokenizer}")
"""
_GENERATE_EXAMPLE = """\
messages = [{"role": "user", "content": "计算 15 * 23 的结果"}]
tools = [...]  # OpenAI-style function schemas the model may call
inputs = tokenizer.apply_chat_template(
    messages, tools=tools, add_generation_prompt=True, return_dict=True, return_tensors="pt"
)
reply = model.generate(**inputs, max_new_tokens=128)
print(tokenizer.decode(reply[0][inputs["input_ids"].shape[1]:]))  # <tool_call>...</tool_call>
"""


def hub_model_id(name: str | None, is_local_folder: bool) -> str | None:
    """``name`` when it reads as a hub model id; the hub refuses a path as ``base_model``."""
    if not name or is_local_folder or not _HUB_ID.match(name):
        return None
    return name


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: tuple[str, str], rows: dict[str, Any]) -> str:
    lines = [f"| {header[0]} | {header[1]} |", "| --- | --- |"]
    lines += [f"| {_cell(key)} | {_cell(value)} |" for key, value in rows.items()]
    return "\n".join(lines)


def _percent(result: dict[str, Any], key: str) -> str:
    value = result.get(key)
    return f"{value:.1%}" if isinstance(value, int | float) else "—"


def _count(result: dict[str, Any]) -> str:
    return f" ({result['correct']}/{result['total']})" if "correct" in result else ""


def _evaluation_section(evaluation: dict[str, Any]) -> str:
    before, after = evaluation.get("before") or {}, evaluation.get("after") or {}
    if not before and not after:
        return "Not evaluated (the job ran with `training.eval_max_examples: 0` or stopped first)."
    total = after.get("total") or before.get("total")
    rows = [
        f"Tool-call accuracy on {total} held-out rows (tools never trained on, by the categories",
        "of the Berkeley Function Calling Leaderboard): calls checked by structure; strict counts",
        "only <tool_call> blocks, lenient also JSON the model wrote instead. Replies decoded",
        "under the offered tools' grammar, as served; the last row decodes without it.",
        "",
        "| metric | before training | after training |",
        "| --- | --- | --- |",
        f"| strict accuracy | {_percent(before, 'accuracy')}{_count(before)} "
        f"| {_percent(after, 'accuracy')}{_count(after)} |",
        f"| lenient accuracy | {_percent(before, 'lenient_accuracy')} "
        f"| {_percent(after, 'lenient_accuracy')} |",
    ]
    before_by, after_by = before.get("by_category", {}), after.get("by_category", {})
    for name in sorted({*before_by, *after_by}):
        rows.append(
            f"| {name} (strict) | {_percent(before_by.get(name, {}), 'accuracy')} "
            f"| {_percent(after_by.get(name, {}), 'accuracy')} |"
        )
    before_free = before.get("without_grammar") or {}
    after_free = after.get("without_grammar") or {}
    if before_free or after_free:
        rows.append(
            f"| strict accuracy without the grammar | {_percent(before_free, 'accuracy')} "
            f"| {_percent(after_free, 'accuracy')} |"
        )
    return "\n".join(rows)


def _usage_section(repo_id: str, base: str, is_lora: bool, files: list[str]) -> str:
    folder = f"models/{repo_id.split('/')[-1]}"
    tokenizer = repo_id if any(name in files for name in _TOKENIZER_FILES) else base
    example = (_PEFT_EXAMPLE if is_lora else _FULL_EXAMPLE).format(
        base=base, repo_id=repo_id, tokenizer=tokenizer
    )
    load = {"model_path": folder, "base_model_name": base} if is_lora else {"model_path": folder}
    return "\n".join(
        [
            "### transformers" + (" + peft" if is_lora else ""),
            "",
            "```python",
            example + _GENERATE_EXAMPLE.rstrip("\n"),
            "```",
            "",
            "### mcp-tune",
            "",
            "Download it, then serve it without a restart (tool calls are parsed and run for you):",
            "",
            "```bash",
            f"hf download {repo_id} --local-dir {folder}",
            "curl -s localhost:8000/model/load -H 'content-type: application/json' \\",
            f"     -d '{json.dumps(load)}'",
            "```",
        ]
    )


def render_model_card(
    job: dict[str, Any], repo_id: str, files: list[str], base_is_local: bool
) -> str:
    """README.md for the trained folder of ``job`` (a record of ``GET /training/jobs/{id}``).

    ``files`` are the folder's files as the repository will hold them; ``base_is_local`` says
    whether the base model was a local folder, which the card's metadata cannot name.
    """
    config = job.get("training_config", {})
    is_lora = config.get("method", "lora") == "lora"
    base = job.get("base_model_path") or "<base model>"
    hub_base = hub_model_id(job.get("base_model_path"), base_is_local)
    metadata: dict[str, Any] = {"library_name": "peft" if is_lora else "transformers"}
    if hub_base:
        metadata["base_model"] = hub_base
    metadata["pipeline_tag"] = "text-generation"
    metadata["tags"] = ["mcp-tune", "tool-calling", "lora" if is_lora else "full-fine-tuning"]
    kind = "A LoRA adapter" if is_lora else "A fully fine-tuned model"
    state = job.get("progress", {}).get("state", "unknown")
    base_note = (
        f"[{hub_base}](https://huggingface.co/{hub_base})"
        if hub_base
        else "a local folder where it was trained; load the same weights from where you keep them."
    )
    sections = [
        "---",
        yaml.safe_dump(metadata, allow_unicode=True, sort_keys=False).rstrip("\n"),
        "---",
        "",
        f"# {repo_id.split('/')[-1]}",
        "",
        f"{kind} that teaches `{base}` to call tools (MCP and built-in functions),",
        f"trained by mcp-tune job `{job.get('job_id')}`",
        f"(started {job.get('created_at')}, {state}).",
        "",
        "## Base model",
        "",
        f"`{base}`: {base_note}",
        "",
        "## Evaluation",
        "",
        _evaluation_section(job.get("evaluation") or {}),
        "",
        "## Training configuration",
        "",
        _table(("setting", "value"), config),
        "",
        "## Dataset",
        "",
        _table(("field", "value"), job.get("dataset", {})),
        "",
        "## Use it",
        "",
        _usage_section(repo_id, base, is_lora, files),
        "",
        "## Files",
        "",
        "\n".join(f"- `{name}`" for name in files),
        "",
    ]
    return "\n".join(sections)
