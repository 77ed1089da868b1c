"""Caps on what one chat request may ask for, shared by /chat and /v1/chat/completions.

Tool rounds are not a request field: ``generation.max_tool_rounds`` (at most 10) caps them.
"""

from __future__ import annotations

from typing import Any

from configs.settings import AppConfig


class LimitError(ValueError):
    """A request over one of the server's caps; ``param`` names the field."""

    def __init__(self, message: str, param: str) -> None:
        super().__init__(message)
        self.param = param


def check_messages(messages: list[dict[str, Any]], config: AppConfig) -> None:
    if len(messages) > config.server.max_messages:
        raise LimitError(
            f"messages: {len(messages)} messages, at most {config.server.max_messages} allowed "
            "(server.max_messages)",
            "messages",
        )
    for index, message in enumerate(messages):
        if len(message.get("content") or "") > config.server.max_message_chars:
            raise LimitError(
                f"messages.{index}.content: longer than {config.server.max_message_chars} chars "
                "(server.max_message_chars)",
                "messages",
            )


def check_max_new_tokens(value: int | None, config: AppConfig, param: str) -> None:
    if value is not None and value > config.server.max_new_tokens:
        raise LimitError(
            f"{param}: {value} exceeds server.max_new_tokens {config.server.max_new_tokens}", param
        )


def check_max_length(value: int | None, config: AppConfig) -> None:
    if value is not None and value > config.model.max_length:
        raise LimitError(
            f"max_length: {value} exceeds model.max_length {config.model.max_length}", "max_length"
        )
