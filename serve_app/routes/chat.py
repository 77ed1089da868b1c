"""POST /chat and POST /chat/simple."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from configs.settings import AppConfig
from llm.generation import GenerationRequest, GenerationResult
from serve_app.backends import Backends, BackendsDep
from serve_app.openai_compat import ToolChoice, checked_reply, tool_grammar
from serve_app.request_limits import check_max_length, check_max_new_tokens, check_messages
from serve_app.schemas import (
    ChatRequest,
    ChatResponse,
    GenerationOptions,
    SimpleChatRequest,
    SimpleChatResponse,
    Usage,
    now_iso,
)
from serve_app.tool_loop import ToolLoopResult, run_tool_loop
from serve_app.tool_policy import chat_tool_specs

router = APIRouter(tags=["chat"])


def check_limits(messages: list[dict[str, Any]], options: GenerationOptions, config: AppConfig):
    check_messages(messages, config)
    check_max_length(options.max_length, config)
    check_max_new_tokens(options.max_new_tokens, config, "max_new_tokens")


def with_system_prompt(
    messages: list[dict[str, Any]], options: GenerationOptions, config: AppConfig
) -> list[dict[str, Any]]:
    prompt = options.system_prompt or config.generation.system_prompt
    if prompt is None or any(m["role"] == "system" for m in messages):
        return messages
    return [{"role": "system", "content": prompt}, *messages]


async def chat_turn(
    messages: list[dict[str, Any]],
    options: GenerationOptions,
    use_tools: bool,
    backends: Backends,
    tool_choice: ToolChoice = "auto",
    allowed_tools: list[str] | None = None,
) -> ToolLoopResult:
    """Validate limits, then run one chat turn, with the tool loop when tools are offered.

    The tools offered are those chats may use (``tool_policy``), narrowed to ``allowed_tools``;
    the loop runs no call of any other. Calls are decoded under the tools' grammar
    (``generation.tool_grammar``); ``tool_choice`` constrains the first round only; ``none``
    offers no tools.
    """
    config = backends.config.get()
    check_limits(messages, options, config)
    messages = with_system_prompt(messages, options, config)
    # One deadline for the whole turn, tool rounds included.
    deadline = time.time() + config.security.generation_timeout_s
    use_tools = use_tools and tool_choice != "none"
    specs = (
        chat_tool_specs(await backends.chat_tools(), config.tools, allowed_tools)
        if use_tools
        else []
    )
    functions = {spec["name"]: spec for spec in specs}
    tools = [{"type": "function", "function": spec} for spec in specs] or None
    # 400 for an unknown tool or without tools. The chat's own tools: a grammar that cannot be
    # compiled in `auto` decodes unconstrained (logged and counted) rather than fail the chat.
    first_grammar = tool_grammar(
        tool_choice, functions, True, config.generation.tool_grammar, strict=False
    )
    later_grammar = tool_grammar("auto", functions, True, config.generation.tool_grammar, False)
    rounds = 0

    async def generate(transcript: list[dict[str, Any]]) -> GenerationResult:
        nonlocal rounds
        rounds += 1
        request = GenerationRequest(
            messages=transcript,
            tools=tools,
            max_new_tokens=options.max_new_tokens or config.generation.max_new_tokens,
            max_length=options.max_length or config.model.max_length,
            temperature=(
                config.generation.temperature
                if options.temperature is None
                else options.temperature
            ),
            top_p=options.top_p or config.generation.top_p,
            repetition_penalty=config.generation.repetition_penalty,
            tool_grammar=first_grammar if rounds == 1 else later_grammar,
            tool_calls_allowed=tools is not None,  # no tools offered: a call could not be run
            deadline=deadline,
        )
        result = await backends.generate(request)
        if tools is None:
            return result
        # tool_choice constrains the first round only, as a client of the OpenAI API would
        # after the tool results came back.
        return checked_reply(result, request, functions, tool_choice if rounds == 1 else "auto")

    if tools is None:
        result = await generate(messages)
        return ToolLoopResult(
            first=result,
            last=result,
            tool_call_errors=list(result.tool_call_errors),
            recovered=list(result.recovered),
        )
    return await run_tool_loop(
        messages,
        generate,
        backends.execute_tools,
        config.generation.max_tool_rounds,
        allowed=set(functions),
    )


@router.post("/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, backends: BackendsDep) -> ChatResponse:
    """Answer a conversation; with ``use_tools`` the model's tool calls are executed first."""
    messages = [m.model_dump(exclude_none=True) for m in body.messages]
    turn = await chat_turn(
        messages, body, body.use_tools, backends, body.tool_choice, body.allowed_tools
    )
    pending_calls = [] if body.use_tools else turn.last.tool_calls
    return ChatResponse(
        response=turn.last.content,
        tool_calls=turn.tool_calls or pending_calls,
        tool_results=turn.tool_results,
        tool_call_errors=turn.tool_call_errors,
        recovered_tool_calls=turn.recovered,
        finish_reason=turn.last.finish_reason,
        usage=Usage(
            prompt_tokens=turn.last.prompt_tokens, completion_tokens=turn.last.completion_tokens
        ),
        timestamp=now_iso(),
    )


@router.post("/chat/simple", response_model=SimpleChatResponse)
async def chat_simple(body: SimpleChatRequest, backends: BackendsDep) -> SimpleChatResponse:
    """One user text → tool calls → tool results → final answer."""
    messages = [{"role": "user", "content": body.text}]
    turn = await chat_turn(messages, body, True, backends, allowed_tools=body.allowed_tools)
    return SimpleChatResponse(
        user_input=body.text,
        assistant_response=turn.first.content,
        tool_calls=turn.tool_calls,
        tool_results=turn.tool_results,
        final_response=turn.last.content,
        tool_call_errors=turn.tool_call_errors,
        recovered_tool_calls=turn.recovered,
        rounds=turn.rounds,
        timestamp=now_iso(),
    )
