"""The OpenAI chat-completions dialect: request checks, message conversion and response shapes.

Pure functions; the routes in ``serve_app/routes/openai.py`` wire them to the model replica.
``tool_choice`` is enforced by constrained decoding plus validation: ``required`` makes the reply
start with ``<tool_call>``, a named function also fixes the name and the first required
argument's key, and the call is then validated against the tool's JSON schema; an invalid call
is retried with sampling (seeded) a few times. A call of a function the request's ``tools`` do
not hold is never returned: a client may run whatever call it gets.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm.generation import GenerationRequest, GenerationResult
from tools.tool_calls import decode_arguments
from tools.tool_spec import argument_errors, schema_problem

logger = logging.getLogger("ray.serve")

MAX_CHOICE_TRIES = 3

# none | auto | required | {"type": "function", "function": {"name": ...}}; None means auto.
ToolChoice = Literal["none", "auto", "required"] | dict[str, Any] | None


class OpenAIError(Exception):
    """An error to answer in OpenAI's shape: ``{"error": {"message", "type", "param", "code"}}``."""

    def __init__(
        self, status: int, message: str, param: str | None = None, code: str | None = None
    ):
        super().__init__(message)
        self.status, self.param, self.code = status, param, code


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # clients send fields we do not use (user, logprobs…)

    model: str
    messages: list[dict[str, Any]] = Field(min_length=1)
    tools: list[dict[str, Any]] | None = None
    tool_choice: ToolChoice = None
    parallel_tool_calls: bool = True
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    n: int = Field(1, ge=1, le=1)


def _text(content: Any) -> str:
    """OpenAI content is a string or a list of parts; only text parts are understood here."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise OpenAIError(400, "only text content parts are supported", "messages")
            texts.append(part.get("text", ""))
        return "".join(texts)
    raise OpenAIError(400, "message content must be a string or a list of parts", "messages")


def to_chat_messages(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """OpenAI messages → the chat-template messages the model was trained on."""
    converted = []
    for index, message in enumerate(messages):
        role = message.get("role")
        if role == "developer":
            role = "system"
        if role not in ("system", "user", "assistant", "tool"):
            raise OpenAIError(400, f"messages[{index}].role {role!r} is not supported", "messages")
        turn: dict[str, Any] = {"role": role, "content": _text(message.get("content"))}
        if role == "assistant" and message.get("tool_calls"):
            turn["tool_calls"] = [
                {
                    "type": "function",
                    "function": {
                        "name": call["function"]["name"],
                        "arguments": decode_arguments(call["function"].get("arguments", "{}")),
                    },
                }
                for call in message["tool_calls"]
            ]
        if role == "tool" and message.get("name"):
            turn["name"] = message["name"]
        converted.append(turn)
    return converted


def tool_functions(request: ChatCompletionRequest) -> dict[str, dict[str, Any]]:
    functions = {}
    for index, tool in enumerate(request.tools or []):
        function = tool.get("function") if isinstance(tool, dict) else None
        if (
            tool.get("type") != "function"
            or not isinstance(function, dict)
            or not function.get("name")
        ):
            raise OpenAIError(400, f"tools[{index}] must be a function tool with a name", "tools")
        problem = schema_problem(function.get("parameters"))
        if problem:
            raise OpenAIError(
                400,
                f"tools[{index}].function.parameters is not a valid JSON schema: {problem}",
                "tools",
            )
        functions[function["name"]] = function
    return functions


def forced_prefix(choice: ToolChoice, functions: dict[str, dict]) -> str:
    """The start the reply must have to honour tool_choice ('' when the model may choose)."""
    if choice in (None, "auto", "none"):
        return ""
    if not functions:
        raise OpenAIError(400, "tool_choice needs tools", "tool_choice")
    if choice == "required":
        return "<tool_call>\n"
    name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
    if name not in functions:
        raise OpenAIError(400, f"tool_choice names an unknown function {name!r}", "tool_choice")
    # No space after a colon: the tokenizer merges it into the next token (' {"', ' "'), and a
    # prefix must end on a token boundary that training text also has.
    prefix = '<tool_call>\n{"name": ' + json.dumps(name) + ', "arguments":'
    required = (functions[name].get("parameters") or {}).get("required") or []
    if required and isinstance(required[0], str):
        # Any valid call holds its required keys, so opening the object with the first one is
        # always right, and it keeps a small model from writing a bare value as the arguments.
        prefix += " {" + json.dumps(required[0]) + ":"
    return prefix


def call_problems(
    result: GenerationResult, functions: dict[str, dict], choice: ToolChoice
) -> list[str]:
    """Why the reply does not satisfy tool_choice; empty when it does."""
    problems = list(result.tool_call_errors)
    if choice not in (None, "auto", "none") and not result.tool_calls:
        problems.append("tool_choice requires a tool call")
    for call in result.tool_calls:
        function = functions.get(call["name"])
        if function is None:
            problems.append(f"unknown function {call['name']!r}")
            continue
        problems.extend(
            f"{call['name']}: {message}"
            for message in argument_errors(call["arguments"], function.get("parameters"))
        )
    return problems


async def generate_valid(
    generate: Callable[[GenerationRequest], Awaitable[GenerationResult]],
    request: GenerationRequest,
    functions: dict[str, dict],
    choice: ToolChoice,
) -> GenerationResult:
    """Generate; when the reply calls tools badly (or tool_choice demands a call), retry sampled
    with seeds derived from the request's. ``request.prefill`` holds the forced prefix."""
    forced = bool(request.prefill)
    base_seed = request.seed or 0
    for attempt in range(MAX_CHOICE_TRIES):
        if attempt:
            request.temperature, request.seed = 0.7, base_seed + attempt
        result = await generate(request)
        attempted = forced or result.tool_calls or result.tool_call_errors
        problems = call_problems(result, functions, choice) if attempted else []
        if not problems:
            return result
    if forced:
        raise OpenAIError(
            422,
            f"the model gave no valid call for tool_choice after {MAX_CHOICE_TRIES} tries: "
            f"{'; '.join(problems)}",
            "tool_choice",
        )
    return result


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def openai_tool_calls(
    result: GenerationResult, request: ChatCompletionRequest
) -> list[dict[str, Any]]:
    """The reply's calls in OpenAI's shape: only of functions in the request's ``tools``."""
    functions = tool_functions(request)
    calls = [call for call in result.tool_calls if call["name"] in functions]
    for name in {call["name"] for call in result.tool_calls} - set(functions):
        logger.warning("/v1: dropped a call of %s, which is not in the request's tools", name)
    calls = calls if request.parallel_tool_calls else calls[:1]
    return [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {
                "name": c["name"],
                "arguments": json.dumps(c["arguments"], ensure_ascii=False),
            },
        }
        for c in calls
    ]


def completion_body(
    request: ChatCompletionRequest, model: str, result: GenerationResult
) -> dict[str, Any]:
    tool_calls = openai_tool_calls(result, request)
    message: dict[str, Any] = {"role": "assistant", "content": result.content or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    # A reply whose only calls were dropped ends like a plain answer.
    finish_reason = "stop" if result.finish_reason == "tool_calls" else result.finish_reason
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if tool_calls else finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "total_tokens": result.prompt_tokens + result.completion_tokens,
        },
    }
