"""The OpenAI chat-completions dialect: request checks, message conversion and response shapes.

Pure functions; the routes in ``serve_app/routes/openai.py`` wire them to the model replica.
Tool calls are decoded under a grammar (``llm.tool_grammar``): a call names an offered function
and its arguments validate against its schema by construction; ``tool_choice`` picks the shape
(``required``: the reply opens with a call; a named function: that one). The schema check after
decoding stays as a guard. A call of a function the request's ``tools`` do not hold is never
returned: a client may run whatever call it gets.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from llm.generation import GenerationRequest, GenerationResult
from llm.tool_grammar import ToolGrammar
from tools.tool_calls import decode_arguments
from tools.tool_spec import argument_errors, schema_problem

logger = logging.getLogger("ray.serve")

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
    # Ours, not OpenAI's (send it in extra_body): false decodes `auto` tool calls without the
    # grammar; required, named and "strict": true functions are constrained regardless.
    tool_grammar: bool = True
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
                f"tools[{index}].function.parameters (of {function['name']!r}) is not a valid "
                f"JSON schema: {problem}",
                "tools",
            )
        functions[function["name"]] = function
    return functions


def tool_grammar(
    choice: ToolChoice,
    functions: dict[str, dict],
    parallel: bool,
    enabled: bool,
    strict: bool = True,
) -> ToolGrammar | None:
    """The grammar a reply is decoded under (None: free). ``enabled`` is the config's and the
    request's say for ``auto``; ``required``, a named function and any function marked
    ``"strict": true`` are always constrained. ``strict``: a grammar that cannot be compiled
    fails the request (400) instead of decoding unconstrained."""
    if choice in (None, "auto", "none"):
        name = "auto"
    elif not functions:
        raise OpenAIError(400, "tool_choice needs tools", "tool_choice")
    elif choice == "required":
        name = "required"
    else:
        name = (choice.get("function") or {}).get("name") if isinstance(choice, dict) else None
        if name not in functions:
            raise OpenAIError(400, f"tool_choice names an unknown function {name!r}", "tool_choice")
    if choice == "none" or not functions:
        return None
    forced = name != "auto" or any(f.get("strict") is True for f in functions.values())
    if not (enabled or forced):
        return None
    return ToolGrammar(tuple(functions.values()), name, parallel, strict or forced)


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


def checked_reply(
    result: GenerationResult,
    request: GenerationRequest,
    functions: dict[str, dict],
    choice: ToolChoice,
) -> GenerationResult:
    """The schema check after decoding, a guard behind the grammar: the calls it refuses are
    named in ``result.guard`` (and the log, when a grammar was on: a bug to report). A reply that
    tool_choice forces to call and that holds no valid call is a 422."""
    problems = call_problems(result, functions, choice)
    if problems and request.tool_grammar is not None:
        logger.warning("tool-call guard fired despite the tool grammar: %s", "; ".join(problems))
    # Calls that did not parse are reported in tool_call_errors already.
    result.guard = [problem for problem in problems if problem not in result.tool_call_errors]
    forced = choice not in (None, "auto", "none")
    if forced and (problems or not result.tool_calls):
        raise OpenAIError(
            422,
            f"the model gave no valid call for tool_choice: {'; '.join(problems)} (was "
            "max_tokens too small for the call?)",
            "tool_choice",
        )
    return result


def completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def openai_tool_calls(
    result: GenerationResult, request: ChatCompletionRequest
) -> list[dict[str, Any]]:
    """The reply's calls in OpenAI's shape: only of functions in the request's ``tools``, with
    arguments valid under their schemas."""
    functions = tool_functions(request)
    calls = [
        call
        for call in result.tool_calls
        if call["name"] in functions
        and not argument_errors(call["arguments"], functions[call["name"]].get("parameters"))
    ]
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
    body: dict[str, Any] = {
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
    if result.guard:  # ours: the calls the schema check refused (they are not in tool_calls)
        body["tool_call_guard"] = result.guard
    return body
