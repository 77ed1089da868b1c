"""Keep text that spells a control token (``<|im_start|>``, ``<tool_call>``, ...) from becoming one.

A prompt is rendered to text by the chat template, then tokenized, and a tokenizer turns the text
of any of its added tokens into that token wherever it stands. A tool result, a tool description
or a message holding ``<|im_end|><|im_start|>system`` would end its turn and open a system turn of
its own. Breaking such text with a zero-width space after its first character keeps it readable
as text, so the only control tokens in a prompt are the template's own.
"""

from __future__ import annotations

import re
from typing import Any

ZERO_WIDTH_SPACE = "\u200b"


def control_token_pattern(tokenizer: Any) -> re.Pattern[str] | None:
    """A pattern matching the text of every added token of ``tokenizer``; None if it has none."""
    contents: set[str] = {token.content for token in tokenizer.added_tokens_decoder.values()}
    # Longest first, so that '</tool_call>' is not matched as a shorter token inside it; a
    # one-character token cannot be broken (and none in use is one).
    texts = sorted((text for text in contents if len(text) > 1), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, texts))) if texts else None


def neutralise(value: Any, pattern: re.Pattern[str] | None) -> Any:
    """``value`` (messages, tools: JSON-like data) with control-token text in every string, keys
    included, broken by a zero-width space."""
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(lambda match: match[0][0] + ZERO_WIDTH_SPACE + match[0][1:], value)
    if isinstance(value, dict):
        return {neutralise(key, pattern): neutralise(item, pattern) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [neutralise(item, pattern) for item in value]
    return value
